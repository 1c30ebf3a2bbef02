// The command-line parser of the cellforge tool (runtime/cli/args.hpp): options declared with
// their help, --help anywhere, unknown options, and the check that keeps a help's defaults equal to
// the code's.
#include <catch2/catch.hpp>

#include "codegen/ir/error.hpp"
#include "runtime/cli/args.hpp"

using namespace cellforge;
using namespace cellforge::cli;

namespace {

Command toy() {
  return {"toy",
          "Does toy things.",
          {{"hidden", "N", "units per layer", "128"},
           {"lr", "RATE", "learning rate", "2e-3"},
           {"out", "PREFIX", "where the files go", "char-lm"},
           {"corpus", "FILE", "the text", ""},
           {"quiet", "", "print less", ""}}};
}

std::string help_of(const std::vector<std::string>& argv) {
  try {
    Args args(argv, toy());
  } catch (const HelpRequested& help) {
    return help.text;
  }
  return "";
}

}  // namespace

TEST_CASE("cli args: --help or -h anywhere gives the command's usage, options and defaults") {
  const std::string help = help_of({"--hidden", "8", "--help"});
  CHECK_THAT(help, Catch::Contains("usage: cellforge toy [options]"));
  CHECK_THAT(help, Catch::Contains("Does toy things."));
  CHECK_THAT(help, Catch::Contains("--hidden N"));
  CHECK_THAT(help, Catch::Contains("units per layer (default: 128)"));
  CHECK_THAT(help, Catch::Contains("--quiet "));
  CHECK_THAT(help, Catch::Contains("--help"));
  CHECK_THAT(help, !Catch::Contains("the text (default"));  // no default shown when there is none
  CHECK(help_of({"-h"}) == help);
  // Help wins over an option it would refuse: a user asking for help gets it.
  CHECK(help_of({"--no-such-option", "-h"}) == help);
  CHECK(help_of({"--hidden", "8"}).empty());
  // As the value of an option it is that value (a prime of "-h"), not a request for help.
  CHECK(help_of({"--out", "-h"}).empty());
  CHECK(help_of({"--out", "-h", "--quiet", "--help"}) == help);
}

TEST_CASE("cli args: values, flags, --name=value, and what is refused") {
  Args args({"--hidden", "8", "--lr=0.1", "--quiet"}, toy());
  CHECK(args.integer("hidden", 128) == 8);
  CHECK(args.number("lr", 2e-3) == 0.1);
  CHECK(args.flag("quiet"));
  CHECK(args.text("out", "char-lm") == "char-lm");
  CHECK_FALSE(args.has("corpus"));

  try {
    Args({"--hiden", "8"}, toy());
    FAIL("an unknown option was accepted");
  } catch (const UserError& e) {
    CHECK_THAT(e.what(), Catch::Contains("unknown option --hiden"));
    CHECK_THAT(e.what(), Catch::Contains("--hidden"));
    CHECK_THAT(e.what(), Catch::Contains("cellforge toy --help"));
  }
  try {
    Args({"--hidden"}, toy());
    FAIL("an option without its value was accepted");
  } catch (const UserError& e) {
    CHECK_THAT(e.what(), Catch::Contains("option --hidden needs a value (N)"));
  }
  CHECK_THROWS_AS(Args({"hidden"}, toy()), UserError);
  CHECK_THROWS_AS(Args({"--hidden", "eight"}, toy()).integer("hidden", 128), UserError);
}

TEST_CASE("cli args: a default the code uses must be the one the help shows") {
  Args args({}, toy());
  CHECK(args.integer("hidden", 128) == 128);
  CHECK(args.number("lr", 0.002) == 0.002);  // "2e-3" is compared as a number
  CHECK_THROWS_AS(args.integer("hidden", 256), InternalError);
  CHECK_THROWS_AS(args.number("lr", 1e-3), InternalError);
  CHECK_THROWS_AS(args.text("out", "run"), InternalError);
  // An option the command does not declare cannot be read (its help would not list it).
  CHECK_THROWS_AS(args.has("layers"), InternalError);
  CHECK_THROWS_AS(args.integer("layers", 2), InternalError);
  // No default shown: any fallback goes (one worked out from other options).
  CHECK(args.text("corpus", "whatever") == "whatever");
}
