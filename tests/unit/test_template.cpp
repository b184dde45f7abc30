// Unit tests for den::Template (Go text/template over JSON). Expected
// outputs were checked against Go's text/template (via podman --format)
// where the template only uses literals.
#include <catch2/catch.hpp>

#include <string>

#include "den/error.h"
#include "den/strings.h"
#include "den/template.h"

using den::Json;
using den::render_template;
using den::Template;
using den::TemplateMethods;

namespace {

std::string run(const std::string& tmpl, const Json& data = Json::object()) {
  return render_template(tmpl, data);
}

// The message of the den::Error the template throws ("" when none).
std::string error_of(const std::string& tmpl, const Json& data = Json::object()) {
  try {
    render_template(tmpl, data);
  } catch (const den::Error& e) {
    CHECK(e.code() == den::Errc::Invalid);
    return e.message();
  }
  return "";
}

Json container() {
  return Json::parse(R"({
    "Id": "abc123",
    "Name": "web",
    "Args": ["-g", "daemon off;"],
    "State": {"Status": "running", "Pid": 42, "Running": true, "ExitCode": 0},
    "Config": {"Env": ["PATH=/usr/bin", "A=<b>&c"], "Image": "nginx"},
    "Labels": {"com.example.x": "X", "b": "2", "a": "1"},
    "Mounts": [{"Source": "/a"}, {"Source": "/b"}],
    "NetworkSettings": {"Networks": {
      "frontend": {"IPAddress": "10.0.1.2"},
      "backend": {"IPAddress": "10.0.0.2"}}},
    "Ports": null,
    "Empty": [],
    "Size": 1234567.0,
    "Ratio": 0.25
  })");
}

}  // namespace

TEST_CASE("template: plain text and simple fields", "[template]") {
  Json c = container();
  CHECK(run("") == "");
  CHECK(run("hello world") == "hello world");
  CHECK(run("a\\tb") == "a\\tb");  // the CLI translates \t, not the engine
  CHECK(run("{{.Name}}", c) == "web");
  CHECK(run("{{.State.Status}}", c) == "running");
  CHECK(run("id={{.Id}} name={{ .Name }}", c) == "id=abc123 name=web");
  CHECK(run("{{.}}", Json("just a string")) == "just a string");
  CHECK(run("{{.name}}", c) == "<no value>");  // case-sensitive keys
}

TEST_CASE("template: docker's documented examples", "[template]") {
  Json c = container();
  CHECK(run("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", c) == "10.0.0.2 10.0.1.2 ");
  CHECK(run("{{range $k, $v := .Labels}}{{$k}}={{$v}} {{end}}", c) == "a=1 b=2 com.example.x=X ");
  CHECK(run(R"({{index .Labels "com.example.x"}})", c) == "X");
  CHECK(run("{{json .Config.Env}}", c) == R"(["PATH=/usr/bin","A=<b>&c"])");
  CHECK(run(R"({{printf "%-10s|" .Name}})", c) == "web       |");
  CHECK(run(R"({{if eq .State.Status "running"}}up{{else}}down{{end}})", c) == "up");
  CHECK(run(R"({{if eq .State.Status "exited"}}up{{else}}down{{end}})", c) == "down");
  CHECK(run("{{len .Mounts}}", c) == "2");
  CHECK(run(R"({{join .Args ","}})", c) == "-g,daemon off;");
  CHECK(run(R"({{.Name | printf "%q"}})", c) == "\"web\"");
}

TEST_CASE("template: printing values like Go's fmt", "[template]") {
  Json c = container();
  CHECK(run("{{.State.Pid}} {{.State.Running}} {{.State.ExitCode}}", c) == "42 true 0");
  CHECK(run("{{.Size}} {{.Ratio}}", c) == "1.234567e+06 0.25");
  CHECK(run("{{.Args}}", c) == "[-g daemon off;]");
  CHECK(run("{{.Labels}}", c) == "map[a:1 b:2 com.example.x:X]");
  CHECK(run("{{.Mounts}}", c) == "[map[Source:/a] map[Source:/b]]");
  CHECK(run("{{.Ports}}", c) == "<nil>");
  CHECK(run("{{.Nope}}|{{.Nope.Deeper}}", c) == "<no value>|<no value>");
  CHECK(run("{{1.0}} {{1.5}} {{100000.0}} {{1000000.0}} {{0.0001}} {{0.00001}}") == "1 1.5 100000 1e+06 0.0001 1e-05");
  CHECK(run("{{json .}}", Json::parse(R"({"z":1,"a":[true,null],"m":{"y":"<"}})")) ==
        R"({"z":1,"a":[true,null],"m":{"y":"<"}})");  // insertion order, no HTML escaping
  CHECK(run("{{json .Size}} {{json .Nope}} {{json 1e21}} {{json 1e-7}}", c) == "1234567 null 1e+21 1e-7");
  CHECK(run(R"({{json "a\"b\n\u0001"}})") == R"("a\"b\n\u0001")");
}

TEST_CASE("template: field access errors", "[template]") {
  Json c = container();
  CHECK(error_of("{{.Name.First}}", c) ==
        "template: :1:2: executing \"\" at <.Name.First>: can't evaluate field First in type string");
  CHECK(error_of("{{.Args.X}}", c).find("can't evaluate field X in type []interface {}") != std::string::npos);
  CHECK(error_of("{{.Ports.X}}", c).find("nil pointer evaluating interface {}.X") != std::string::npos);
}

TEST_CASE("template: variables", "[template]") {
  Json c = container();
  CHECK(run("{{$x := .Name}}{{$x}}-{{$x}}", c) == "web-web");
  CHECK(run(R"({{$x := 1}}{{$x = "two"}}{{$x}})") == "two");
  CHECK(run("{{with .State}}{{$.Name}}:{{.Status}}{{end}}", c) == "web:running");
  CHECK(run("{{$.State.Pid}}", c) == "42");
  CHECK(run("{{$s := .State}}{{$s.Status}}", c) == "running");
  CHECK(run("{{with $x := .State.Pid}}{{$x}}{{end}}", c) == "42");
  // assignment inside range updates the outer variable
  CHECK(run(R"({{$n := 0}}{{range .Args}}{{$n = .}}{{end}}{{$n}})", c) == "daemon off;");
  CHECK_THAT(error_of("{{with $x := 1}}{{end}}{{$x}}"), Catch::Contains("undefined variable \"$x\""));
}

TEST_CASE("template: range", "[template]") {
  Json c = container();
  CHECK(run("{{range .Args}}[{{.}}]{{end}}", c) == "[-g][daemon off;]");
  CHECK(run("{{range $i, $v := .Args}}{{$i}}:{{$v}} {{end}}", c) == "0:-g 1:daemon off; ");
  CHECK(run("{{range $v := .Args}}{{$v}};{{end}}", c) == "-g;daemon off;;");
  CHECK(run("{{range .Empty}}x{{else}}empty{{end}}", c) == "empty");
  CHECK(run("{{range .Ports}}x{{else}}none{{end}}", c) == "none");
  CHECK(run("{{range .Nope}}x{{else}}missing{{end}}", c) == "missing");
  CHECK(run("{{range .Mounts}}{{.Source}},{{end}}", c) == "/a,/b,");
  CHECK(run("{{range $k, $v := .State}}{{$k}} {{end}}", c) == "ExitCode Pid Running Status ");
  CHECK(run("{{range 3}}{{.}}{{end}}{{range $i := 2}}{{$i}}{{end}}{{range 0}}x{{else}}-{{end}}") == "01201-");
  // variables declared in the body are fresh in every iteration
  CHECK(run("{{range .Args}}{{$n := .}}{{$n}};{{end}}", c) == "-g;daemon off;;");
  CHECK(run("{{range $i, $e := .}}{{if eq $i 1}}{{continue}}{{end}}{{if eq $i 3}}{{break}}{{end}}{{$e}}{{end}}",
            Json::parse(R"(["a","b","c","d","e"])")) == "ac");
  CHECK_THAT(error_of("{{range .Name}}{{end}}", c), Catch::Contains("range can't iterate over web"));
  CHECK_THAT(error_of("{{break}}"), Catch::Contains("{{break}} outside {{range}}"));
}

TEST_CASE("template: if, else if, with", "[template]") {
  Json c = container();
  CHECK(run("{{if .State.Running}}yes{{end}}", c) == "yes");
  CHECK(run(R"({{if 0}}a{{else if ""}}b{{else if .Empty}}c{{else}}d{{end}})", c) == "d");
  CHECK(run(R"({{if .Nope}}a{{else if .Name}}b{{end}})", c) == "b");
  CHECK(run("{{with .Config}}{{.Image}}{{end}}", c) == "nginx");
  CHECK(run("{{with .Nope}}x{{else}}no{{end}}", c) == "no");
  CHECK(run("{{with .Ports}}x{{else with .Name}}{{.}}{{end}}", c) == "web");
  // Go truthiness: false, 0, nil, empty string/array/object
  CHECK(run(R"({{if false}}1{{end}}{{if 0}}2{{end}}{{if 0.0}}3{{end}}{{if ""}}5{{end}})") == "");
  CHECK_THAT(error_of("{{if nil}}x{{end}}"), Catch::Contains("nil is not a command"));
  CHECK(run("{{if .Empty}}1{{end}}{{if .Ports}}2{{end}}{{if .}}3{{end}}", c) == "3");
  CHECK(run("{{if .}}x{{else}}empty{{end}}", Json::object()) == "empty");
  CHECK(run(R"({{if and .Name .State.Running}}ok{{end}} {{if or .Nope .Name}}ok{{end}} {{if not .Nope}}ok{{end}})", c) ==
        "ok ok ok");
}

TEST_CASE("template: pipelines and sub-expressions", "[template]") {
  Json c = container();
  CHECK(run("{{.Name | upper}}", c) == "WEB");
  CHECK(run(R"({{.Name | printf "%s-%s" "x"}})", c) == "x-web");
  CHECK(run("{{(index .Mounts 1).Source}}", c) == "/b");
  CHECK(run(R"({{printf "%s/%d" (upper .Name) (len .Args)}})", c) == "WEB/2");
  CHECK(run(R"({{"a" | print "b" | printf "%s!"}})") == "ba!");
}

TEST_CASE("template: trim markers and comments", "[template]") {
  Json c = container();
  CHECK(run("a  {{- .Name -}}  b", c) == "awebb");
  CHECK(run("a\n\t{{- .Name}}\n", c) == "aweb\n");
  CHECK(run("{{-3}} {{ -3 }}") == "-3 -3");  // no space after "-": a number
  CHECK(run("x{{/* comment */}}y") == "xy");
  CHECK(run("x {{- /* comment */ -}} y") == "xy");
  CHECK(run("a{{/* multi\nline */}}b") == "ab");
}

TEST_CASE("template: literals", "[template]") {
  CHECK(run(R"({{"a\tb\x41\u00e9\101\\"}})") == "a\tbA\xC3\xA9" "A\\");
  CHECK(run(R"({{`raw\n`}})") == "raw\\n");
  CHECK(run("{{'a'}} {{'\\n'}}") == "97 10");
  CHECK(run("{{0x1F}} {{0o17}} {{017}} {{0b101}} {{1_000}} {{+5}} {{1e3}} {{1.50}}") == "31 15 15 5 1000 5 1000 1.5");
  CHECK(run("{{true}} {{false}} {{print nil}}") == "true false <nil>");
}

TEST_CASE("template: printf verbs", "[template]") {
  Json c = container();
  CHECK(run(R"({{printf "%d|%s|%v|%5.1f|%x|%q|%t" 1 2 3.5 4.25 "hi" 5 true}})") == "1|%!s(int=2)|3.5|  4.2|6869|'\\x05'|true");
  CHECK(run(R"({{printf "%5s|%-5s|%.2s|%05d|%-05d|%+d|%x|%X|%o|%b|%#x" "ab" "ab" "héllo" -42 3 5 255 255 8 5 255}})") ==
        "   ab|ab   |hé|-0042|3    |+5|ff|FF|10|101|0xff");
  CHECK(run(R"({{printf "%.2f|%8.3f|%e|%g|%G" 3.14159 2.5 123456.789 0.000012345 1e21}})") ==
        "3.14|   2.500|1.234568e+05|1.2345e-05|1E+21");
  CHECK(run(R"({{printf "%q|%+q|%#q|%x|% x" "a\"b" "é" "ab" "hé" "hi"}})") == R"("a\"b"|"\u00e9"|`ab`|68c3a9|68 69)");
  CHECK(run(R"({{printf "%v|%s|%d|%T" nil nil nil 1.5}})") == "<nil>|%!s(<nil>)|%!d(<nil>)|float64");
  CHECK(run(R"({{printf "%d %d" 1}}|{{printf "%d" 1 2 "x"}}|{{printf "100%%"}})") ==
        "1 %!d(MISSING)|1%!(EXTRA int=2, string=x)|100%");
  CHECK(run(R"({{printf "%[2]s %[1]s" "a" "b"}}|{{printf "%*d|%c|%U" 4 7 9731 65}})") == "b a|   7|\xE2\x98\x83|U+0041");
  CHECK(run(R"({{printf "%v|%d|%s" .Args .Labels.a .Labels}})", c) == "[-g daemon off;]|%!d(string=1)|map[a:1 b:2 com.example.x:X]");
  CHECK(run(R"({{printf "%.1f%%" .Ratio}})", c) == "0.2%");
  CHECK(run(R"({{printf "%d" .Size}})", c) == "1234567");  // integral floats format as integers
}

TEST_CASE("template: printf refuses widths and precisions over 1e6 as Go does", "[template]") {
  // A literal width that grows past 1e6 ends the verb (Go's parsenum): the
  // rest of the format is consumed, nothing is padded.
  CHECK(run(R"({{printf "%0999999999d" 1}})") == "%!(NOVERB)%!(EXTRA int=1)");
  CHECK(run(R"({{printf "%.99999999f|" 1.5}})") == "%!(NOVERB)%!(EXTRA float64=1.5)");
  // From an argument: more than 1e6, or not an int, is BADWIDTH / BADPREC.
  CHECK(run(R"({{printf "%*d|" 1000001 7}})") == "%!(BADWIDTH)7|");
  CHECK(run(R"({{printf "%*d|" -1000001 7}})") == "%!(BADWIDTH)7|");
  CHECK(run(R"({{printf "%*d|" "x" 7}})") == "%!(BADWIDTH)7|");
  CHECK(run(R"({{printf "%.*d|" 1000001 7}})") == "%!(BADPREC)7|");
  CHECK(run(R"({{printf "%.*d|" -1 7}})") == "%!(BADPREC)7|");
  CHECK(run(R"({{printf "%-*d|" -3 7}})") == "7  |");
  // Up to 1e6 is honoured.
  CHECK(run(R"({{printf "%*d" 1000000 7}})").size() == 1000000);
  CHECK(run(R"({{printf "%1000000d" 7}})").size() == 1000000);
  CHECK(run(R"({{printf "%.3d|%5.d|%.f" 7 0 2.5}})") == "007|     |2");
}

TEST_CASE("template: print, println and escaping builtins", "[template]") {
  CHECK(run(R"({{print 1 2 "a" "b" 3 nil 4.0}})") == "1 2ab3 <nil> 4");
  CHECK(run(R"({{println 1 "a"}})") == "1 a\n");
  CHECK(run(R"({{html "<a href=\"x\">&'</a>"}})") == "&lt;a href=&#34;x&#34;&gt;&amp;&#39;&lt;/a&gt;");
  CHECK(run(R"({{js "a\\b'\"<>&=\n"}})") == R"(a\\b\'\"\u003C\u003E\u0026\u003D\u000A)");
  CHECK(run(R"({{urlquery "a b&c=d/é~"}})") == "a+b%26c%3Dd%2F%C3%A9~");
}

TEST_CASE("template: comparison and logic builtins", "[template]") {
  Json c = container();
  CHECK(run(R"({{eq 1 2 1}} {{ne "a" "b"}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}})") == "true true true true true false");
  CHECK(run("{{eq .State.Pid 42}} {{eq .Ports nil}} {{eq .Nope nil}} {{eq 1 1.0}}", c) == "true true true true");
  CHECK(run(R"({{and 1 0 2}} {{and 1 "x"}} {{or 0 "" "x"}} {{or 0 ""}} {{not 0}} {{not "a"}})") == "0 x x  true false");
  // and/or stop evaluating at the deciding argument
  CHECK(run(R"({{and .Ports .Ports.X}}|{{or .Name .Ports.X}})", c) == "<nil>|web");
  CHECK_THAT(error_of(R"({{eq 1 "a"}})"), Catch::Contains("error calling eq: incompatible types for comparison"));
  CHECK_THAT(error_of("{{lt true false}}"), Catch::Contains("invalid type for comparison"));
  CHECK_THAT(error_of("{{eq .Args .Args}}", c), Catch::Contains("non-comparable type"));
}

TEST_CASE("template: len, index, slice", "[template]") {
  Json c = container();
  CHECK(run(R"({{len .Labels}} {{len .Name}} {{len "héllo"}})", c) == "3 3 6");
  CHECK(run(R"({{index .Args 1}} {{index .Mounts 0 "Source"}} {{index "abc" 1}})", c) == "daemon off; /a 98");
  CHECK(run(R"({{index .Labels "nope"}}|)", c) == "|");  // like map[string]string
  CHECK(run(R"({{slice "hello" 1 3}} {{slice .Args 1}} {{slice "abc"}})", c) == "el [daemon off;] abc");
  CHECK_THAT(error_of("{{index .Args 5}}", c),
             Catch::Contains(R"(executing "" at <index .Args 5>: error calling index: index out of range: 5)"));
  CHECK_THAT(error_of("{{len 5}}"), Catch::Contains("error calling len: len of type int"));
  CHECK_THAT(error_of(R"({{slice "abc" 2 1}})"), Catch::Contains("invalid slice index: 2 > 1"));
}

TEST_CASE("template: docker helper functions", "[template]") {
  Json c = container();
  CHECK(run(R"({{lower "HeLLo"}} {{upper "héllo"}} {{title "hello wide-world"}})") == "hello H\xC3\x89LLO Hello Wide-World");
  CHECK(run(R"({{split "a,b,c" ","}} {{len (split "a,b,c" ",")}} {{index (split "k=v" "=") 1}})") == "[a b c] 3 v");
  CHECK(run(R"({{pad "x" 2 3}}|{{pad "" 2 3}}|)") == "  x   ||");
  CHECK(run(R"({{truncate "abcdef" 3}} {{truncate "ab" 5}} {{truncate .Id 4}})", c) == "abc ab abc1");
  CHECK(run(R"({{join (split "a b c" " ") "+"}} {{json .Labels}})", c) ==
        R"(a+b+c {"com.example.x":"X","b":"2","a":"1"})");
  CHECK_THAT(error_of("{{upper 5}}"), Catch::Contains("wrong type for value; expected string; got int"));
  CHECK_THAT(error_of("{{table .Name}}", c), Catch::Contains("function \"table\" not defined"));
}

TEST_CASE("template: parse errors carry line and column", "[template]") {
  CHECK(error_of("{{.State.Status }") == R"(template: :1:16: unexpected "}" in operand)");
  CHECK(error_of("{{foo}}") == R"(template: :1: function "foo" not defined)");
  CHECK(error_of("ok\n  {{.Name") == "template: :2:2: unclosed action");
  CHECK_THAT(error_of("{{if .X}}yes"), Catch::StartsWith("template: :1:12: unexpected EOF") &&
                                           Catch::Contains("missing {{end}}"));
  CHECK_THAT(error_of("{{range .X}}{{else}}"), Catch::Contains("missing {{end}}"));
  CHECK(error_of("{{end}}") == "template: :1:2: unexpected {{end}}");
  CHECK(error_of("{{else}}") == "template: :1:2: unexpected {{else}}");
  CHECK(error_of("{{}}") == "template: :1:2: missing value for command");
  CHECK(error_of("{{$x}}") == R"(template: :1:2: undefined variable "$x")");
  CHECK(error_of(R"({{"abc}})") == "template: :1:2: unterminated quoted string");
  CHECK(error_of("{{1x}}") == R"(template: :1:2: bad number syntax: "1x")");
  CHECK(error_of("{{(1}}") == "template: :1:4: unclosed left paren");
  CHECK(error_of("{{/* x }}") == "template: :1:0: unclosed comment");
  CHECK(error_of("{{if 1}}{{else}}{{else}}{{end}}") == "template: :1:18: expected end; found {{else}}");
  CHECK(error_of(R"({{"a".X}})") == R"(template: :1:5: unexpected . after term "\"a\"")");
  CHECK(error_of("{{. | 3}}") == "template: :1:6: non executable command in pipeline stage 2");
  CHECK(error_of("line1\nline2 {{.A | | .B}}") == R"(template: :2:13: unexpected "|" in command)");
  CHECK_THAT(error_of(R"({{template "x"}})"), Catch::Contains("not supported"));
  std::string deep = "{{" + std::string(2000, '(') + "1" + std::string(2000, ')') + "}}";
  CHECK_THAT(error_of(deep), Catch::Contains("max expression depth exceeded"));
}

TEST_CASE("template: execution errors", "[template]") {
  CHECK(error_of("{{nil}}") == R"(template: :1:2: executing "" at <nil>: nil is not a command)");
  CHECK(error_of("{{1 2}}") == R"(template: :1:2: executing "" at <1>: can't give argument to non-function 1)");
  CHECK(error_of("{{len}}") == R"(template: :1:2: executing "" at <len>: wrong number of args for len: want 1 got 0)");
  CHECK_THAT(error_of("{{printf}}"), Catch::Contains("wrong number of args for printf: want at least 1 got 0"));
}

TEST_CASE("template: Template objects are reusable and movable", "[template]") {
  den::Template t = den::Template::parse("{{.Name}}:{{len .Args}}");
  CHECK(t.execute(Json::parse(R"({"Name":"a","Args":[]})")) == "a:0");
  den::Template moved = std::move(t);
  CHECK(moved.execute(Json::parse(R"({"Name":"b","Args":[1]})")) == "b:1");
  CHECK_THROWS_AS(den::Template::parse("{{"), den::Error);
}

TEST_CASE("template methods: a field chain with arguments calls a registered method", "[template]") {
  Json dot = {{"Labels", "a=1,b=two"}, {"Inner", {{"Labels", "c=3"}}}};
  TemplateMethods m = {{"Label", [](const Json& self, const std::vector<Json>& args) -> Json {
    std::string want = args.at(0).get<std::string>();
    for (const auto& kv : den::split(self.value("Labels", ""), ','))
      if (kv.substr(0, kv.find('=')) == want) return kv.substr(kv.find('=') + 1);
    return "";
  }}};
  CHECK(Template::parse("{{.Label \"b\"}}|{{.Label \"zz\"}}|{{.Inner.Label \"c\"}}").execute(dot, &m) == "two||3");
  CHECK(Template::parse("{{\"a\" | .Label}}").execute(dot, &m) == "1");
  // Without the method, Go's error.
  CHECK_THROWS_WITH(Template::parse("{{.Label \"b\"}}").execute(dot), Catch::Contains("can't give argument"));
}

// ---- Go's typed nils and empty collections --------------------------------------
//
// Expected outputs reasoned from Go: fmt prints a nil or empty slice as "[]",
// a nil or empty map as "map[]", a nil pointer as "<nil>"; encoding/json
// writes nil slices, maps and pointers as null and empty ones as [] / {};
// omitempty leaves nil and empty fields out; a field of a nil map is
// <no value>, of a nil pointer an error; ranging over nil runs {{else}}.

namespace {

Json marked() {
  Json j = Json::parse(R"({
    "Args": [],
    "State": {"Status": "created"},
    "Mounts": [],
    "Config": {"Cmd": null, "Entrypoint": null, "Volumes": null, "Labels": {}, "Env": ["A=1"]},
    "HostConfig": {"Binds": null, "CapAdd": null, "Dns": []},
    "NetworkSettings": {"Ports": {"80/tcp": null, "81/tcp": [{"HostIp": "", "HostPort": "8081"}]},
                        "Networks": {"a": {"Aliases": null}, "b": {"Aliases": ["x"]}}}
  })");
  den::mark_go_nils(j, {{"Config.Cmd", den::GoNil::Slice, "strslice.StrSlice"},
                        {"Config.Entrypoint", den::GoNil::Slice, "strslice.StrSlice"},
                        {"Config.Volumes", den::GoNil::Map, "map[string]struct {}"},
                        {"Config.Labels", den::GoNil::Map, "map[string]string"},
                        {"Config.Healthcheck", den::GoNil::Pointer, "*container.HealthConfig", true},
                        {"HostConfig.Binds", den::GoNil::Slice, "[]string"},
                        {"HostConfig.CapAdd", den::GoNil::Slice, "strslice.StrSlice"},
                        {"HostConfig.Tmpfs", den::GoNil::Map, "map[string]string", true},
                        {"State.Health", den::GoNil::Pointer, "*types.Health", true},
                        {"NetworkSettings.Ports.*", den::GoNil::Slice, "[]nat.PortBinding"},
                        {"NetworkSettings.Networks.*.Aliases", den::GoNil::Slice, "[]string"},
                        {"Missing.Deep", den::GoNil::Slice, "[]string", true}});
  return j;
}

}  // namespace

TEST_CASE("template: typed nils print as Go prints them", "[template][nil]") {
  Json d = marked();
  CHECK(run("{{.Config.Cmd}}|{{.Config.Entrypoint}}|{{.HostConfig.Binds}}|{{.HostConfig.CapAdd}}", d) == "[]|[]|[]|[]");
  CHECK(run("{{.Config.Volumes}}|{{.HostConfig.Tmpfs}}|{{.Config.Labels}}", d) == "map[]|map[]|map[]");
  CHECK(run("{{.State.Health}}|{{.Config.Healthcheck}}", d) == "<nil>|<nil>");
  // Empty (non-nil) collections print the same way.
  CHECK(run("{{.Mounts}}|{{.Args}}|{{.HostConfig.Dns}}", d) == "[]|[]|[]");
  CHECK(run("{{.NetworkSettings.Ports}}", d) == "map[80/tcp:[] 81/tcp:[map[HostIp: HostPort:8081]]]");
  CHECK(run("{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.Aliases}};{{end}}", d) == "a=[];b=[x];");
  CHECK(run("{{printf \"%v %s %d\" .Config.Cmd .Config.Entrypoint .HostConfig.Binds}}", d) == "[] [] []");
  CHECK(run("{{printf \"%v|%s|%T\" .State.Health .State.Health .State.Health}}", d) ==
        "<nil>|%!s(*types.Health=<nil>)|*types.Health");
  CHECK(run("{{printf \"%T %T\" .Config.Cmd .Config.Volumes}}", d) == "strslice.StrSlice map[string]struct {}");
}

TEST_CASE("template: typed nils are null in json, omitempty ones left out", "[template][nil]") {
  Json d = marked();
  CHECK(run("{{json .Config.Cmd}} {{json .Config.Volumes}} {{json .HostConfig.Binds}} {{json .State.Health}}", d) ==
        "null null null null");
  CHECK(run("{{json .Mounts}} {{json .Config.Labels}} {{json .HostConfig.Dns}}", d) == "[] {} []");
  CHECK(run("{{json .State}}", d) == R"({"Status":"created"})");
  CHECK(run("{{json .HostConfig}}", d) == R"({"Binds":null,"CapAdd":null,"Dns":[]})");
  CHECK(run("{{json .NetworkSettings.Ports}}", d) == R"({"80/tcp":null,"81/tcp":[{"HostIp":"","HostPort":"8081"}]})");
  // The plain JSON of a marked value: what inspect without --format prints.
  Json plain = den::strip_go_nils(d);
  CHECK(plain["Config"]["Cmd"].is_null());
  CHECK(plain["Config"]["Labels"] == Json::object());
  CHECK_FALSE(plain["State"].contains("Health"));
  CHECK_FALSE(plain["HostConfig"].contains("Tmpfs"));
  CHECK_FALSE(plain.contains("Missing"));  // a marker needs its parent object
  CHECK(plain["NetworkSettings"]["Networks"]["a"]["Aliases"].is_null());
}

TEST_CASE("template: typed nils in conditions, len, range, index and fields", "[template][nil]") {
  Json d = marked();
  CHECK(run("{{if .Config.Cmd}}y{{else}}n{{end}}{{if .State.Health}}y{{else}}n{{end}}", d) == "nn");
  CHECK(run("{{with .Config.Volumes}}y{{else}}n{{end}}", d) == "n");
  CHECK(run("{{len .Config.Cmd}} {{len .Config.Volumes}} {{len .Mounts}}", d) == "0 0 0");
  CHECK(error_of("{{len .State.Health}}", d) ==
        R"(template: :1:2: executing "" at <len .State.Health>: error calling len: len of nil pointer)");
  CHECK(run("{{range .Config.Cmd}}x{{else}}none{{end}} {{range $k, $v := .Config.Volumes}}x{{else}}none{{end}}", d) ==
        "none none");
  CHECK(run("{{range .Mounts}}x{{else}}no mounts{{end}}", d) == "no mounts");
  CHECK(run("{{join .Config.Cmd \",\"}}|{{index .Config.Volumes \"/data\"}}|{{.Config.Volumes.x}}", d) ==
        "||<no value>");
  CHECK(run("{{eq .Config.Cmd nil}} {{slice .Config.Cmd 0 0}}", d) == "true []");
  // A field of a nil pointer: docker's well-known error for containers
  // without a health check.
  CHECK_THAT(error_of("{{.State.Health.Status}}", d),
             Catch::Contains(R"(executing "" at <.State.Health.Status>: nil pointer evaluating *types.Health.Status)"));
  CHECK_THAT(error_of("{{.Config.Cmd.X}}", d), Catch::Contains("can't evaluate field X in type strslice.StrSlice"));
  CHECK_THAT(error_of("{{index .Config.Cmd 0}}", d), Catch::Contains("index out of range: 0"));
}

TEST_CASE("template: mark_go_nils leaves values that are set alone", "[template][nil]") {
  Json j = {{"Config", {{"Cmd", {"sh"}}, {"Labels", {{"a", "1"}}}}}, {"State", {{"Health", {{"Status", "healthy"}}}}}};
  den::mark_go_nils(j, {{"Config.Cmd", den::GoNil::Slice, "[]string"},
                        {"Config.Labels", den::GoNil::Map, "map[string]string"},
                        {"State.Health", den::GoNil::Pointer, "*types.Health", true}});
  CHECK(run("{{.Config.Cmd}} {{.Config.Labels}} {{.State.Health.Status}} {{json .Config.Cmd}}", j) ==
        "[sh] map[a:1] healthy [\"sh\"]");
  CHECK(den::strip_go_nils(j) == j);
}

TEST_CASE("template: Go structs print as {v1 v2}, maps as map[k:v], nested pointers as addresses", "[template][struct]") {
  Json doc = Json::parse(R"({"Id":"abc","State":{"Status":"running","Running":true,"Pid":42,"Error":"",
    "Health":{"Status":"healthy","Log":[]}},
    "Config":{"Labels":{"b":"2","a":"1"},"ExposedPorts":{"80/tcp":{}}},
    "NetworkSettings":{"Ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]}},
    "Mounts":[{"Type":"bind","Source":"/s","RW":true}],
    "RestartPolicy":{"Name":"no","MaximumRetryCount":0}})");
  den::GoShape shape;
  shape.maps = {"Config.Labels", "Config.ExposedPorts", "NetworkSettings.Ports"};
  shape.pointers = {"State", "State.Health", "Config", "NetworkSettings"};
  den::GoStructs structs = den::go_structs(doc, shape);
  auto run = [&](const char* t) { return Template::parse(t).execute(doc, nullptr, &structs); };
  // text/template dereferences the pointer it prints; a nested one is an address.
  std::string state = run("{{.State}}");
  CHECK(state.rfind("{running true 42  0xc", 0) == 0);
  CHECK(state.back() == '}');
  CHECK(run("{{.State.Health}}") == "{healthy []}");
  CHECK(run("{{.Config.Labels}} {{.Config.ExposedPorts}}") == "map[a:1 b:2] map[80/tcp:{}]");
  CHECK(run("{{.NetworkSettings.Ports}}") == "map[80/tcp:[{0.0.0.0 8080}]]");
  CHECK(run("{{.Mounts}} {{index .Mounts 0}}") == "[{bind /s true}] {bind /s true}");
  CHECK(run("{{.RestartPolicy}}") == "{no 0}");
  // fmt: a pointer given to print/printf is &{...}; %+v names the fields.
  CHECK(run("{{print .State.Health}}") == "&{healthy []}");
  CHECK(run("{{printf \"%+v\" .RestartPolicy}}") == "{Name:no MaximumRetryCount:0}");
  CHECK(run("{{printf \"%+v %v\" 5 .RestartPolicy.Name}}") == "5 no");
  // Field access, json and range are unchanged.
  CHECK(run("{{.State.Status}} {{json .RestartPolicy}}") == "running {\"Name\":\"no\",\"MaximumRetryCount\":0}");
  CHECK(run("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}") == "a=1 b=2 ");
  // Without marks every object is a map, as before.
  CHECK(Template::parse("{{.RestartPolicy}}").execute(doc) == "map[MaximumRetryCount:0 Name:no]");
}
