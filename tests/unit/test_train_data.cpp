// The trainer's plain parts: the vocabulary, the split and the batches (char-rnn's layout), the
// strict JSON reader of checkpoint headers, CRC-32C, the Rng, and the SVG plot's ticks and text.
#include <catch2/catch.hpp>

#include "codegen/ir/error.hpp"
#include "runtime/plot/svg_plot.hpp"
#include "runtime/train/corpus.hpp"
#include "runtime/train/crc32c.hpp"
#include "runtime/train/json.hpp"
#include "runtime/train/rng.hpp"

using namespace cellforge;
using namespace cellforge::train;

TEST_CASE("corpus: the vocabulary is the sorted distinct bytes", "[unit][corpus]") {
  const Corpus c = Corpus::from_text("hello", "hello");
  CHECK(c.vocabulary.symbols() == "ehlo");
  CHECK(c.tokens == std::vector<int32_t>{1, 0, 2, 2, 3});
  CHECK(Vocabulary::show('\n') == "'\\n'");
  CHECK(Vocabulary::show(0x9c) == "'\\x9c'");
  CHECK_THROWS_WITH(c.vocabulary.encode("hex", "the prime"),
                    "the prime has the character 'x' (at position 2) that the model's vocabulary lacks; the vocabulary is 4 characters: 'e''h''l''o'");
  CHECK_THROWS_WITH(Corpus::from_text("", "empty.txt"), Catch::StartsWith("the corpus 'empty.txt' is empty"));
  CHECK_THROWS_WITH(Vocabulary::from_symbols("ba"), Catch::StartsWith("the vocabulary's characters must be distinct and in increasing byte order"));
}

TEST_CASE("corpus: contiguous 95/5 split and B parallel streams of T steps", "[unit][corpus]") {
  std::string text;
  for (int i = 0; i < 100; ++i) text += static_cast<char>('a' + i % 26);
  const Corpus c = Corpus::from_text(text, "abc");
  const TextSplit s = split_text(c, 0.05);
  CHECK(s.train.size() == 95);
  CHECK(s.val.size() == 5);
  CHECK(std::vector<int32_t>(c.tokens.begin() + 95, c.tokens.end()) == s.val);
  // 95 tokens, B = 3: streams of (95 - 1) / 3 = 31 tokens, T = 4: 7 batches.
  const BatchStream stream(s.train, 3, 4, "train");
  CHECK(stream.batches() == 7);
  const Batch b1 = stream.batch(1);
  for (int t = 0; t < 4; ++t)
    for (int row = 0; row < 3; ++row) {
      CHECK(b1.inputs[t * 3 + row] == s.train[row * 31 + 4 + t]);
      CHECK(b1.targets[t * 3 + row] == s.train[row * 31 + 4 + t + 1]);
    }
  // Batch k+1 continues batch k in every stream.
  const Batch b2 = stream.batch(2);
  for (int row = 0; row < 3; ++row) CHECK(b2.inputs[row] == b1.targets[3 * 3 + row]);
  CHECK_THROWS_WITH(BatchStream(s.val, 3, 4, "the validation text"),
                    "the validation text has 5 characters, too few for one batch of 3 streams x 4 steps (needs 13); use a longer text, or a smaller --batch or --unroll");
}

TEST_CASE("json: strict parsing of checkpoint headers", "[unit][json]") {
  const json::Value v = json::parse(R"( {"a": [1, 2.5e3, -0], "b": {"c": "x\u00e9\ud83d\ude00\n"}, "d": true, "e": null} )");
  REQUIRE(v.kind == json::Value::Kind::object);
  int64_t n = 0;
  CHECK(v.find("a")->items[0].as_count(&n));
  CHECK(n == 1);
  CHECK_FALSE(v.find("a")->items[1].as_count(&n));
  CHECK(v.find("b")->find("c")->text == "x\xc3\xa9\xf0\x9f\x98\x80\n");
  auto error = [](const std::string& text) {
    try {
      json::parse(text);
    } catch (const json::ParseError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(error(R"({"a": 1, "a": 2})") == "at byte 9: duplicate key \"a\"");
  CHECK(error("[1, 2,]") == "at byte 6: unexpected ']' where a value should start");
  CHECK(error("01") == "at byte 1: a number has a leading zero");
  CHECK(error("{\"a\": \"\xff\"}") == "at byte 7: invalid UTF-8 inside a string");
  CHECK(error("\"a\tb\"") == "at byte 2: control character \\x09 inside a string");
  CHECK(error("{} x") == "at byte 3: unexpected 'x' after the end of the JSON value");
  CHECK(error("\"\\ud800\"") == "at byte 7: a high surrogate is not followed by a low one");
  CHECK(error(std::string(100, '[') + std::string(100, ']')) == "at byte 65: nesting deeper than 64 levels");
  CHECK(error("{\"a\"") == "at byte 4: expected ':' but the text ends");
  CHECK(json::quote("a\"b\\c\n\x01") == "\"a\\\"b\\\\c\\n\\u0001\"");
  CHECK(json::parse(json::quote("tab\there \x7f")).text == "tab\there \x7f");
}

TEST_CASE("crc32c and rng: known values", "[unit][crc32c]") {
  CHECK(crc32c("123456789") == 0xE3069283u);  // the CRC-32C check value
  CHECK(crc32c("") == 0u);
  const std::string long_text(1000, 'z');
  CHECK(crc32c(long_text.data() + 3, 500, crc32c(long_text.data(), 3)) == crc32c(long_text.data(), 503));
  Rng a(42), b(42);
  for (int i = 0; i < 10; ++i) CHECK(a.next() == b.next());
  Rng c(0);
  CHECK(c.state() != Rng::State{});
  double lo = 1, hi = 0;
  for (int i = 0; i < 10000; ++i) {
    const double u = c.uniform();
    lo = std::min(lo, u), hi = std::max(hi, u);
  }
  CHECK(lo >= 0);
  CHECK(lo < 0.001);
  CHECK(hi < 1);
  CHECK(hi > 0.999);
}

TEST_CASE("plot: ticks on linear and log axes", "[unit][plot]") {
  CHECK(plot::ticks(0, 10, plot::Scale::linear) == std::vector<double>{0, 2, 4, 6, 8, 10});
  CHECK(plot::ticks(1.23, 1.71, plot::Scale::linear).front() == Approx(1.3));
  CHECK(plot::ticks(0.01, 1000, plot::Scale::log) == std::vector<double>{0.01, 0.1, 1, 10, 100, 1000});
  CHECK(plot::ticks(1, 40, plot::Scale::log) == std::vector<double>{1, 2, 5, 10, 20});
  CHECK(plot::ticks(3, 4, plot::Scale::log).size() >= 2);  // falls back to linear ticks
}

TEST_CASE("plot: the SVG carries every series, skips non-finite points and escapes text", "[unit][plot]") {
  plot::Plot p;
  p.title = "loss <&> \"curves\"";
  p.x_label = "iteration";
  p.y_label = "norm";
  p.y_scale = plot::Scale::log;
  p.series.push_back({"train", {1, 2, 3, 4}, {1, 0.5, NAN, 0.25}});
  p.series.push_back({"val", {2, 4}, {0.7, -1}, "#123456", true, true});  // -1 cannot be drawn on a log axis
  p.series.push_back({"empty", {}, {}});
  const std::string svg = plot::render_svg(p);
  CHECK(svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK_THAT(svg, Catch::Contains(">loss &lt;&amp;&gt; &quot;curves&quot;</text>"));
  CHECK_THAT(svg, Catch::Contains("<g class=\"series\" data-name=\"train\""));
  CHECK_THAT(svg, Catch::Contains("<g class=\"series\" data-name=\"empty\""));
  CHECK_THAT(svg, Catch::Contains("stroke=\"#123456\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\""));
  CHECK_THAT(svg, Catch::Contains(">norm (log)</text>"));
  // The NaN splits the train line in two polylines; the val series keeps one point and one marker.
  size_t polylines = 0;
  for (size_t at = svg.find("<polyline"); at != std::string::npos; at = svg.find("<polyline", at + 1)) ++polylines;
  CHECK(polylines == 3);
  size_t circles = 0;
  for (size_t at = svg.find("<circle"); at != std::string::npos; at = svg.find("<circle", at + 1)) ++circles;
  CHECK(circles == 1);
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(svg.find("inf") == std::string::npos);
  CHECK(svg.substr(svg.size() - 7) == "</svg>\n");
}
