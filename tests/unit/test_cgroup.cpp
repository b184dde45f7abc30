#include <catch2/catch.hpp>

#include "den/cgroup.h"
#include "den/error.h"

using namespace den;

TEST_CASE("cgroup: docker's conversions", "[cgroup]") {
  CHECK(shares_to_weight(2) == 1);
  CHECK(shares_to_weight(1024) == 39);
  CHECK(shares_to_weight(512) == 20);
  CHECK(shares_to_weight(262144) == 10000);
  CHECK(shares_to_weight(1) == 1);  // clamped
  CHECK(blkio_to_io_weight(10) == 1);
  CHECK(blkio_to_io_weight(1000) == 10000);
  CHECK(blkio_to_io_weight(300) == 2930);
  CHECK(parse_nano_cpus("1.5") == 1500000000);
  CHECK(parse_nano_cpus("0.01") == 10000000);
  CHECK_THROWS_WITH(parse_nano_cpus("x"), Catch::Contains("invalid --cpus \"x\""));
  CHECK_THROWS_AS(parse_nano_cpus("-1"), Error);
}

TEST_CASE("cgroup: device rates", "[cgroup]") {
  DeviceRate d = parse_device_rate("/dev/vda:1mb", false, "--device-read-bps");
  CHECK(d.path == "/dev/vda");
  CHECK(d.rate == 1048576);
  CHECK(parse_device_rate("/dev/sda:100", true, "--device-read-iops").rate == 100);
  CHECK_THROWS_WITH(parse_device_rate("/dev/vda", false, "--device-read-bps"), Catch::Contains("use DEVICE:RATE"));
  CHECK_THROWS_WITH(parse_device_rate("vda:1m", false, "--device-read-bps"), Catch::Contains("under /dev"));
  CHECK_THROWS_WITH(parse_device_rate("/dev/vda:1m", true, "--device-read-iops"), Catch::Contains("operations"));
}

TEST_CASE("cgroup: validation against docker's rules and the machine", "[cgroup]") {
  Resources r;
  r.memory = 1024;
  CHECK_THROWS_WITH(validate_resources(r), Catch::Contains("minimum memory limit of 6MiB"));
  r = {};
  r.nano_cpus = int64_t{online_cpus() + 1} * 1000000000;
  CHECK_THROWS_WITH(validate_resources(r), Catch::Contains("the range of CPUs is from 0.01"));
  r = {};
  r.cpuset_cpus = "4096";
  CHECK_THROWS_WITH(validate_resources(r), Catch::Contains("CPU 4096 does not exist"));
  r.cpuset_cpus = "3-1";
  CHECK_THROWS_WITH(validate_resources(r), Catch::Contains("invalid --cpuset-cpus"));
  r = {};
  r.memory_swap = 1 << 30;
  CHECK_THROWS_WITH(validate_resources(r), Catch::Contains("needs -m"));
  r = {};
  r.blkio_weight = 5;
  CHECK_THROWS_WITH(validate_resources(r), Catch::Contains("between 10 and 1000"));
  r = {};
  r.device_read_bps.push_back({"/dev/null", 1});
  CHECK_THROWS_WITH(validate_resources(r), Catch::Contains("not a block device"));
  r = {};
  r.memory = 300 << 20;
  r.nano_cpus = 10000000;
  r.cpuset_cpus = "0";
  r.pids_limit = 100;
  CHECK_NOTHROW(validate_resources(r));
}

TEST_CASE("cgroup: flags, controllers and the HostConfig round trip", "[cgroup]") {
  Resources r;
  CHECK_FALSE(r.any_limit());
  r.has_oom_score_adj = true;
  r.oom_score_adj = 100;
  CHECK_FALSE(r.any_limit());  // not a cgroup setting
  r.memory = 300 << 20;
  r.nano_cpus = 1500000000;
  r.pids_limit = 10;
  r.device_read_bps.push_back({"/dev/vda", 1048576});
  CHECK(r.any_limit());
  CHECK(r.flags_set() == std::vector<std::string>{"-m", "--cpus", "--pids-limit", "--device-read-bps"});
  CHECK(r.controllers() == std::vector<std::string>{"cpu", "io", "memory", "pids"});
  Json j = to_json(r);
  CHECK(j["Memory"] == 300 << 20);
  CHECK(j["NanoCpus"] == 1500000000);
  CHECK(j["PidsLimit"] == 10);
  CHECK(j["BlkioDeviceReadBps"][0]["Path"] == "/dev/vda");
  Resources back = resources_from_json(j);
  CHECK(back.memory == r.memory);
  CHECK(back.nano_cpus == r.nano_cpus);
  CHECK(back.pids_limit == 10);
  CHECK(back.device_read_bps.size() == 1);
  CHECK(back.oom_score_adj == 100);
  CHECK(to_json(Resources{})["PidsLimit"].is_null());
}
