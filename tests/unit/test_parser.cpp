#include <catch2/catch.hpp>

#include "../../src/cli/cli.h"
#include "den/error.h"

using namespace den;
using namespace den::cli;

namespace {
Command run_like() {
  Command c;
  c.paths = {{"run"}};
  c.stop_at_positional = true;
  c.options = {{"interactive", 'i', OptKind::Bool, "", "", ""},
               {"tty", 't', OptKind::Bool, "", "", ""},
               {"detach", 'd', OptKind::Bool, "", "", ""},
               {"env", 'e', OptKind::List, "list", "", ""},
               {"publish", 'p', OptKind::List, "list", "", ""},
               {"name", 0, OptKind::Value, "string", "", ""}};
  return c;
}
Args parse(const Command& c, std::vector<std::string> argv) { return parse_args(c, argv, 0, "run", "den"); }
}  // namespace

TEST_CASE("combined short flags and values", "[parser]") {
  Args a = parse(run_like(), {"-itd", "-p8080:80", "-e", "A=1", "-e=B=2", "--name=web", "bb", "sh", "-c", "echo -x"});
  CHECK(a.flag("interactive"));
  CHECK(a.flag("tty"));
  CHECK(a.flag("detach"));
  CHECK(a.list("publish") == std::vector<std::string>{"8080:80"});
  CHECK(a.list("env") == std::vector<std::string>{"A=1", "B=2"});
  CHECK(a.value("name") == "web");
  CHECK(a.positional == std::vector<std::string>{"bb", "sh", "-c", "echo -x"});
}

TEST_CASE("everything after the image goes to the container", "[parser]") {
  Args a = parse(run_like(), {"bb", "--name", "x", "-it"});
  CHECK(!a.has("name"));
  CHECK(a.positional == std::vector<std::string>{"bb", "--name", "x", "-it"});
}

TEST_CASE("bool flags take =false and last value wins", "[parser]") {
  Args a = parse(run_like(), {"--detach=false", "--name", "a", "--name", "b", "img"});
  CHECK(!a.flag("detach"));
  CHECK(a.has("detach"));
  CHECK(a.value("name") == "b");
}

TEST_CASE("double dash ends options", "[parser]") {
  Command c = run_like();
  c.stop_at_positional = false;
  Args a = parse(c, {"--", "-d", "x"});
  CHECK(!a.has("detach"));
  CHECK(a.positional == std::vector<std::string>{"-d", "x"});
}

TEST_CASE("interspersed flags for ordinary commands", "[parser]") {
  Command c = run_like();
  c.stop_at_positional = false;
  Args a = parse(c, {"img", "-d", "other"});
  CHECK(a.flag("detach"));
  CHECK(a.positional == std::vector<std::string>{"img", "other"});
}

TEST_CASE("lone dash is positional (stdin)", "[parser]") {
  Args a = parse(run_like(), {"-"});
  CHECK(a.positional == std::vector<std::string>{"-"});
}

TEST_CASE("global options are accepted by every command", "[parser]") {
  Args a = parse(run_like(), {"--log-level", "debug", "--root=/x", "img"});
  CHECK(a.value("log-level") == "debug");
  CHECK(a.value("root") == "/x");
}

TEST_CASE("unknown and incomplete flags are clear errors", "[parser]") {
  CHECK_THROWS_WITH(parse(run_like(), {"--bogus", "img"}), Catch::Contains("unknown flag: --bogus"));
  CHECK_THROWS_WITH(parse(run_like(), {"-z", "img"}), Catch::Contains("unknown shorthand flag: 'z' in -z"));
  CHECK_THROWS_WITH(parse(run_like(), {"--name"}), Catch::Contains("flag needs an argument: --name"));
  CHECK_THROWS_WITH(parse(run_like(), {"-e"}), Catch::Contains("flag needs an argument"));
  CHECK_THROWS_WITH(parse(run_like(), {"--detach=maybe"}), Catch::Contains("invalid argument \"maybe\""));
  try {
    parse(run_like(), {"--bogus"});
  } catch (const Error& e) {
    CHECK(e.code() == Errc::Invalid);
    CHECK(e.exit_code() == 125);
    CHECK(std::string(e.what()).find("den run --help") != std::string::npos);
  }
}

TEST_CASE("help lists options docker-style", "[parser]") {
  Command c = run_like();
  c.usage = "[OPTIONS] IMAGE [COMMAND] [ARG...]";
  c.summary = "Run a command in a new container";
  std::string h = command_help(c, "run", "den");
  CHECK(h.find("Usage:  den run [OPTIONS] IMAGE [COMMAND] [ARG...]") != std::string::npos);
  CHECK(h.find("  -d, --detach") != std::string::npos);
  CHECK(h.find("      --name string") != std::string::npos);
}

TEST_CASE("tabwrite aligns like docker's tabwriter", "[parser]") {
  std::string t = tabwrite({"REPOSITORY\tTAG\tIMAGE ID", "bb\tlatest\t0123456789ab"});
  CHECK(t == "REPOSITORY   TAG       IMAGE ID\nbb           latest    0123456789ab\n");
}
