// `cellforge sample`: generates text from a checkpoint written by `cellforge train`, with a
// temperature, a priming text and a seed, printing it as it is made; the same arguments always
// print the same text.
#include <cstdio>

#include "codegen/ir/error.hpp"
#include "runtime/cli/args.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/train/sampler.hpp"

namespace cellforge::cli {

int run_sample(const Argv& argv) {
  Args args(argv, {"sample",
                   "Generates text from a checkpoint of cellforge train; the same arguments always print the same text.",
                   {{"checkpoint", "FILE", "the trained model", ""},
                    {"length", "N", "characters to generate", "500"},
                    {"temperature", "T", "divides the logits: below 1 safer, above 1 more varied; 0: always the most "
                                         "likely character", "1"},
                    {"prime", "TEXT", "text read before sampling starts (characters of the model's vocabulary)", ""},
                    {"seed", "N", "seed of the sampling", "1"},
                    {"threads", "N", "threads of the compiled network (the text does not depend on it); 0: one per "
                                     "hardware thread", "0"}}});
  NetworkOptions net;
  net.threads = static_cast<int>(args.integer("threads", 0));
  train::SampleOptions o;
  o.length = args.integer("length", 500);
  // Printed as it is made, but bounded: a length with a few zeros too many would run for days
  // (100 million characters take minutes to hours, by the model's size).
  constexpr int64_t kMostCharacters = 100'000'000;
  if (o.length < 0 || o.length > kMostCharacters)
    user_error("option --length needs a count of characters from 0 to ", kMostCharacters, ", got ", o.length,
               "; for more text, run sample again with another --seed");
  o.temperature = args.number("temperature", 1.0);
  o.prime = args.text("prime", "");
  const int64_t seed = args.integer("seed", 1);
  if (seed < 0) user_error("option --seed needs an integer >= 0, got ", seed);
  o.seed = static_cast<uint64_t>(seed);
  auto sampler = train::Sampler::from_checkpoint(args.text("checkpoint"), net);
  // Each character as soon as it is drawn; a line at a time when stdout is a pipe or a file.
  sampler->sample_to(o, [](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    if (text.find('\n') != std::string_view::npos) std::fflush(stdout);
  });
  std::fputc('\n', stdout);
  return 0;
}

}  // namespace cellforge::cli
