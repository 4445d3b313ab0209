// Tests of checkpoint files: bitwise round trips, the latest/previous rotation, falling back to
// previous.npz when latest.npz is damaged in every way a crash or a disk can damage it, errors when
// both are, leftover temporary files, manifest checks, no crash on any truncation or flipped byte,
// and that numpy reads the files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "runtime/npy.h"
#include "sweep/checkpoint.h"
#include "tests/common/test_util.h"

namespace groove::sweep {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::bitwise_equal;
using test::TempDir;
using test::throws_mentioning;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

std::set<std::string> files_in(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

::testing::AssertionResult contains_all(const std::string& text, std::initializer_list<std::string> needles) {
  for (const std::string& needle : needles) {
    if (text.find(needle) == std::string::npos) {
      return ::testing::AssertionFailure() << "\"" << text << "\" does not mention \"" << needle << "\"";
    }
  }
  return ::testing::AssertionSuccess();
}

float f32_bits(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Arrays of every dtype, including values that only a bitwise copy preserves (a NaN payload, -0,
// subnormals, infinities), a 0-d array and an empty one. `step` varies the values.
Checkpoint make_checkpoint(std::int64_t step) {
  Checkpoint c;
  c.step = step;
  const float s = static_cast<float>(step);
  c.arrays.push_back({"w1", Tensor::from_vector<float>({2, 3}, {s, -0.0f, f32_bits(0x7fc12345u), f32_bits(1u),
                                                                std::numeric_limits<float>::infinity(), 1e-30f})});
  c.arrays.push_back({"adam_m", Tensor::from_vector<double>({4}, {0.1 * step, -1e300, 5e-324, -0.0})});
  c.arrays.push_back({"labels", Tensor::from_vector<std::int32_t>(
                                    {3, 1}, {static_cast<std::int32_t>(step), std::numeric_limits<std::int32_t>::min(),
                                             std::numeric_limits<std::int32_t>::max()})});
  c.arrays.push_back({"scalar", Tensor::from_vector<double>(Shape{}, {3.25})});
  c.arrays.push_back({"empty", Tensor::host(Shape{0, 5}, DType::f32)});
  c.meta = "{\"writer_offsets\": [" + std::to_string(step) + ", 17], \"label\": \"r\xc3\xa9sum\xc3\xa9\"}";
  return c;
}

void expect_same(const Checkpoint& actual, const Checkpoint& expected) {
  EXPECT_EQ(actual.step, expected.step);
  EXPECT_EQ(actual.meta, expected.meta);
  ASSERT_EQ(actual.arrays.size(), expected.arrays.size());
  for (std::size_t i = 0; i < actual.arrays.size(); ++i) {
    EXPECT_EQ(actual.arrays[i].name, expected.arrays[i].name);
    EXPECT_TRUE(bitwise_equal(actual.arrays[i].tensor, expected.arrays[i].tensor)) << expected.arrays[i].name;
  }
}

TEST(CheckpointTest, RoundTripsEveryDtypeStepAndMetaBitwise) {
  TempDir tmp;
  const std::string dir = tmp.file("run-0007/checkpoint");  // created, parents included
  const Checkpoint c = make_checkpoint(123456789012345);
  save_checkpoint(dir, c);
  EXPECT_EQ(files_in(dir), (std::set<std::string>{"latest.npz"}));
  const auto loaded = load_checkpoint(dir);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->path, dir + "/latest.npz");
  EXPECT_TRUE(loaded->warnings.empty());
  expect_same(loaded->ckpt, c);
  expect_same(read_checkpoint_file(dir + "/latest.npz"), c);

  // An empty checkpoint (no arrays, no meta) is valid too.
  const std::string empty_dir = tmp.file("empty");
  save_checkpoint(empty_dir, Checkpoint{});
  expect_same(load_checkpoint(empty_dir)->ckpt, Checkpoint{});
}

TEST(CheckpointTest, TheFileIsAnNpzWithTheDocumentedMembers) {
  TempDir tmp;
  save_checkpoint(tmp.path(), make_checkpoint(42));
  const std::vector<ZipMember> members = read_zip_members(tmp.file("latest.npz"));
  std::vector<std::string> names;
  for (const ZipMember& m : members) names.push_back(m.name);
  EXPECT_EQ(names, (std::vector<std::string>{"w1.npy", "adam_m.npy", "labels.npy", "scalar.npy", "empty.npy",
                                             "meta.json", "checkpoint.json"}));
  const json manifest = json::parse(members.back().bytes);
  EXPECT_EQ(manifest["format"], "groove-checkpoint");
  EXPECT_EQ(manifest["version"], 1);
  EXPECT_EQ(manifest["step"], 42);
  ASSERT_EQ(manifest["members"].size(), 6u);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(manifest["members"][i]["name"], members[i].name);
    EXPECT_EQ(manifest["members"][i]["bytes"], members[i].bytes.size());
    EXPECT_EQ(manifest["members"][i]["crc32"], zip_crc32(members[i].bytes));
    total += members[i].bytes.size();
  }
  EXPECT_EQ(manifest["total_bytes"], total);
  EXPECT_EQ(members[5].bytes, make_checkpoint(42).meta);
}

TEST(CheckpointTest, KeepsThePreviousCheckpoint) {
  TempDir tmp;
  const std::string dir = tmp.path();
  save_checkpoint(dir, make_checkpoint(1));
  save_checkpoint(dir, make_checkpoint(2));
  EXPECT_EQ(files_in(dir), (std::set<std::string>{"latest.npz", "previous.npz"}));
  expect_same(read_checkpoint_file(dir + "/latest.npz"), make_checkpoint(2));
  expect_same(read_checkpoint_file(dir + "/previous.npz"), make_checkpoint(1));
  save_checkpoint(dir, make_checkpoint(3));
  EXPECT_EQ(files_in(dir), (std::set<std::string>{"latest.npz", "previous.npz"}));
  EXPECT_EQ(read_checkpoint_file(dir + "/latest.npz").step, 3);
  EXPECT_EQ(read_checkpoint_file(dir + "/previous.npz").step, 2);
  const auto loaded = load_checkpoint(dir);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->ckpt.step, 3);
  EXPECT_TRUE(loaded->warnings.empty());
}

// The ways latest.npz can be damaged, each with a word its problem must mention.
struct Damage {
  const char* what;
  std::function<void(const std::string& path)> apply;
  const char* problem;
};

std::vector<Damage> damages() {
  return {
      {"truncated to half",
       [](const std::string& p) { write_bytes(p, read_bytes(p).substr(0, read_bytes(p).size() / 2)); }, "not a ZIP"},
      {"last byte cut", [](const std::string& p) { write_bytes(p, read_bytes(p).substr(0, read_bytes(p).size() - 1)); },
       "not a ZIP"},
      {"array byte flipped",
       [](const std::string& p) {
         std::string b = read_bytes(p);
         // The last data byte of the first array (w1's 1e-30f).
         const std::size_t at = b.find(serialize_npy(make_checkpoint(2).arrays[0].tensor));
         ASSERT_NE(at, std::string::npos);
         const std::size_t last = at + serialize_npy(make_checkpoint(2).arrays[0].tensor).size() - 1;
         b[last] = static_cast<char>(b[last] ^ 0x10);
         write_bytes(p, b);
       },
       "CRC-32"},
      {"manifest byte flipped",
       [](const std::string& p) {
         std::string b = read_bytes(p);
         const std::size_t at = b.find("\"step\": 2");
         ASSERT_NE(at, std::string::npos);
         b[at + 8] = '3';
         write_bytes(p, b);
       },
       "CRC-32"},
      {"zero length", [](const std::string& p) { write_bytes(p, ""); }, "not a ZIP"},
      {"random bytes",
       [](const std::string& p) {
         std::string b(4096, '\0');
         std::uint32_t x = 12345;
         for (char& c : b) {
           x = x * 1664525u + 1013904223u;
           c = static_cast<char>(x >> 24);
         }
         write_bytes(p, b);
       },
       "not a ZIP"},
      {"deleted", [](const std::string& p) { fs::remove(p); }, "does not exist"},
      {"a folder",
       [](const std::string& p) {
         fs::remove(p);
         fs::create_directory(p);
       },
       "not a regular file"},
  };
}

TEST(CheckpointTest, DamagedLatestFallsBackToPreviousWithAWarning) {
  for (const Damage& d : damages()) {
    SCOPED_TRACE(d.what);
    TempDir tmp;
    save_checkpoint(tmp.path(), make_checkpoint(1));
    save_checkpoint(tmp.path(), make_checkpoint(2));
    d.apply(tmp.file("latest.npz"));
    const auto loaded = load_checkpoint(tmp.path());
    ASSERT_TRUE(loaded.has_value());
    EXPECT_EQ(loaded->path, tmp.file("previous.npz"));
    expect_same(loaded->ckpt, make_checkpoint(1));
    ASSERT_EQ(loaded->warnings.size(), 1u);
    EXPECT_TRUE(
        contains_all(loaded->warnings[0], {tmp.file("latest.npz"), d.problem, tmp.file("previous.npz"), "step 1"}));
    // read_checkpoint_file reports the same file and problem.
    if (std::string(d.what) != "deleted") {
      EXPECT_TRUE(throws_mentioning([&] { read_checkpoint_file(tmp.file("latest.npz")); },
                                    {tmp.file("latest.npz"), d.problem}));
    }
  }
}

TEST(CheckpointTest, BothDamagedThrowsNamingBothFilesAndProblems) {
  TempDir tmp;
  save_checkpoint(tmp.path(), make_checkpoint(1));
  save_checkpoint(tmp.path(), make_checkpoint(2));
  write_bytes(tmp.file("latest.npz"), "");
  write_bytes(tmp.file("previous.npz"), "garbage");
  EXPECT_TRUE(throws_mentioning(
      [&] { load_checkpoint(tmp.path()); },
      {"no usable checkpoint", tmp.path(), tmp.file("latest.npz"), "(0 bytes", tmp.file("previous.npz"), "(7 bytes"}));
  // A missing latest beside a damaged previous is no better.
  fs::remove(tmp.file("latest.npz"));
  EXPECT_TRUE(throws_mentioning([&] { load_checkpoint(tmp.path()); },
                                {tmp.file("latest.npz"), "does not exist", tmp.file("previous.npz"), "(7 bytes"}));
  // A damaged latest without any previous.
  TempDir only;
  save_checkpoint(only.path(), make_checkpoint(1));
  write_bytes(only.file("latest.npz"), "garbage");
  EXPECT_TRUE(throws_mentioning([&] { load_checkpoint(only.path()); },
                                {only.file("latest.npz"), "not a ZIP", only.file("previous.npz"), "does not exist"}));
}

TEST(CheckpointTest, NoCheckpointInAMissingOrEmptyFolder) {
  TempDir tmp;
  EXPECT_FALSE(load_checkpoint(tmp.file("never-created")).has_value());
  EXPECT_FALSE(load_checkpoint(tmp.path()).has_value());
  // A save that crashed before its first rename leaves only a temporary file.
  write_bytes(tmp.file("latest.npz.tmp.4242.1"), "partial");
  EXPECT_FALSE(load_checkpoint(tmp.path()).has_value());
  // A file where the folder should be is an error naming it.
  write_bytes(tmp.file("plain-file"), "x");
  EXPECT_TRUE(
      throws_mentioning([&] { load_checkpoint(tmp.file("plain-file")); }, {tmp.file("plain-file"), "not a folder"}));
  EXPECT_TRUE(throws_mentioning([&] { save_checkpoint(tmp.file("plain-file"), make_checkpoint(1)); },
                                {tmp.file("plain-file")}));
}

TEST(CheckpointTest, LeftoverTempFileIsIgnoredAndRemovedByTheNextSave) {
  TempDir tmp;
  save_checkpoint(tmp.path(), make_checkpoint(1));
  // A crash mid-save leaves the temporary file of write_file_atomic (here a truncated copy).
  const std::string leftover = tmp.file("latest.npz.tmp.99999.7");
  write_bytes(leftover, read_bytes(tmp.file("latest.npz")).substr(0, 50));
  const auto loaded = load_checkpoint(tmp.path());
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->ckpt.step, 1);
  EXPECT_TRUE(loaded->warnings.empty());
  save_checkpoint(tmp.path(), make_checkpoint(2));
  EXPECT_EQ(files_in(tmp.path()), (std::set<std::string>{"latest.npz", "previous.npz"}));
  EXPECT_EQ(load_checkpoint(tmp.path())->ckpt.step, 2);
}

TEST(CheckpointTest, ADamagedLatestNeverPushesOutAGoodPrevious) {
  TempDir tmp;
  save_checkpoint(tmp.path(), make_checkpoint(1));
  save_checkpoint(tmp.path(), make_checkpoint(2));
  write_bytes(tmp.file("latest.npz"), "damaged");
  save_checkpoint(tmp.path(), make_checkpoint(3));
  EXPECT_EQ(read_checkpoint_file(tmp.file("latest.npz")).step, 3);
  EXPECT_EQ(read_checkpoint_file(tmp.file("previous.npz")).step, 1);

  // A crash between the two renames leaves previous only; the next save keeps it.
  TempDir crash;
  save_checkpoint(crash.path(), make_checkpoint(1));
  save_checkpoint(crash.path(), make_checkpoint(2));
  fs::rename(crash.file("latest.npz"), crash.file("previous.npz"));
  EXPECT_EQ(load_checkpoint(crash.path())->ckpt.step, 2);
  save_checkpoint(crash.path(), make_checkpoint(3));
  EXPECT_EQ(read_checkpoint_file(crash.file("latest.npz")).step, 3);
  EXPECT_EQ(read_checkpoint_file(crash.file("previous.npz")).step, 2);
}

TEST(CheckpointTest, SaveRejectsBadInputNamingThePath) {
  TempDir tmp;
  const std::string latest = tmp.file("latest.npz");
  Checkpoint c = make_checkpoint(1);
  c.step = -1;
  EXPECT_TRUE(throws_mentioning([&] { save_checkpoint(tmp.path(), c); }, {latest, "negative step"}));
  for (const char* name : {"", "a/b", "w1"}) {
    Checkpoint bad = make_checkpoint(1);
    bad.arrays.push_back({name, Tensor::from_vector<float>({1}, {1.0f})});
    EXPECT_TRUE(throws_mentioning([&] { save_checkpoint(tmp.path(), bad); }, {latest})) << name;
  }
  Checkpoint undefined = make_checkpoint(1);
  undefined.arrays.push_back({"u", Tensor()});
  EXPECT_TRUE(throws_mentioning([&] { save_checkpoint(tmp.path(), undefined); }, {latest, "'u'", "undefined"}));
  EXPECT_TRUE(files_in(tmp.path()).empty());
}

// Rewrites a valid checkpoint's members (and optionally its manifest) to build damaged ones
// whose ZIP structure and CRCs are intact, so that only the checkpoint-level checks can catch them.
class CheckpointManifestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    save_checkpoint(tmp_.path(), make_checkpoint(5));
    members_ = read_zip_members(tmp_.file("latest.npz"));
    manifest_ = json::parse(members_.back().bytes);
    members_.pop_back();
  }
  // Writes `members` plus `manifest` (last) as bad.npz and expects read_checkpoint_file to fail
  // mentioning every needle.
  ::testing::AssertionResult rejects(const std::vector<ZipMember>& members, const json& manifest,
                                     std::vector<std::string> needles) {
    std::vector<ZipMember> all = members;
    all.push_back({"checkpoint.json", manifest.dump()});
    write_bytes(bad(), serialize_zip(all, NpzCompression::stored, bad()));
    needles.push_back(bad());
    return throws_mentioning([&] { read_checkpoint_file(bad()); }, needles);
  }
  // The manifest recomputed for `members`, so that only the mutation under test is inconsistent.
  static json manifest_for(const std::vector<ZipMember>& members, const json& base) {
    json m = base;
    m["members"] = json::array();
    std::uint64_t total = 0;
    for (const ZipMember& z : members) {
      m["members"].push_back({{"name", z.name}, {"bytes", z.bytes.size()}, {"crc32", zip_crc32(z.bytes)}});
      total += z.bytes.size();
    }
    m["total_bytes"] = total;
    return m;
  }
  std::string bad() const { return tmp_.file("bad.npz"); }

  TempDir tmp_;
  std::vector<ZipMember> members_;  // without the manifest
  json manifest_;
};

TEST_F(CheckpointManifestTest, UntouchedArchiveIsValid) {
  std::vector<ZipMember> all = members_;
  all.push_back({"checkpoint.json", manifest_.dump()});
  write_bytes(bad(), serialize_zip(all, NpzCompression::stored, bad()));
  expect_same(read_checkpoint_file(bad()), make_checkpoint(5));
  // Deflated members (e.g. recompressed by a user's tool) are fine too: the content is what counts.
  write_bytes(bad(), serialize_zip(all, NpzCompression::deflated, bad()));
  expect_same(read_checkpoint_file(bad()), make_checkpoint(5));
}

TEST_F(CheckpointManifestTest, MissingExtraOrReorderedMembers) {
  std::vector<ZipMember> missing = members_;
  missing.erase(missing.begin() + 1);
  EXPECT_TRUE(rejects(missing, manifest_, {"lists 6 members", "holds 5"}));
  std::vector<ZipMember> extra = members_;
  extra.insert(extra.begin(), ZipMember{"extra.npy", serialize_npy(Tensor::from_vector<float>({1}, {1}))});
  EXPECT_TRUE(rejects(extra, manifest_, {"lists 6 members", "holds 7"}));
  std::vector<ZipMember> swapped = members_;
  std::swap(swapped[0], swapped[1]);
  EXPECT_TRUE(rejects(swapped, manifest_, {"members[0]", "'w1.npy'", "'adam_m.npy'"}));
  // Not the last member.
  std::vector<ZipMember> manifest_first = members_;
  manifest_first.insert(manifest_first.begin(), ZipMember{"checkpoint.json", manifest_.dump()});
  write_bytes(bad(), serialize_zip(manifest_first, NpzCompression::stored, bad()));
  EXPECT_TRUE(throws_mentioning([&] { read_checkpoint_file(bad()); }, {bad(), "last member is not checkpoint.json"}));
  // A plain NPZ of arrays (no manifest at all).
  write_npz(bad(), make_checkpoint(5).arrays);
  EXPECT_TRUE(throws_mentioning([&] { read_checkpoint_file(bad()); }, {bad(), "not a groove checkpoint"}));
}

TEST_F(CheckpointManifestTest, SizesAndChecksumsMustMatch) {
  json m = manifest_;
  m["members"][2]["bytes"] = m["members"][2]["bytes"].get<std::uint64_t>() + 1;
  EXPECT_TRUE(rejects(members_, m, {"labels.npy", "manifest records"}));
  m = manifest_;
  m["members"][0]["crc32"] = m["members"][0]["crc32"].get<std::uint64_t>() ^ 1u;
  EXPECT_TRUE(rejects(members_, m, {"w1.npy", "CRC-32 differs"}));
  m = manifest_;
  m["total_bytes"] = m["total_bytes"].get<std::uint64_t>() + 4;
  EXPECT_TRUE(rejects(members_, m, {"total_bytes"}));
  // A member replaced by another of the same size (CRC intact in the ZIP, but not the recorded one).
  std::vector<ZipMember> replaced = members_;
  replaced[0].bytes.back() = static_cast<char>(replaced[0].bytes.back() ^ 1);
  EXPECT_TRUE(rejects(replaced, manifest_, {"w1.npy", "CRC-32 differs"}));
}

TEST_F(CheckpointManifestTest, WrongFieldTypesAndValues) {
  struct Case {
    std::function<void(json&)> mutate;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {[](json& m) { m["format"] = "something-else"; }, "\"format\""},
      {[](json& m) { m.erase("format"); }, "\"format\""},
      {[](json& m) { m["version"] = 2; }, "newer groove"},
      {[](json& m) { m["version"] = "1"; }, "\"version\""},
      {[](json& m) { m["step"] = "abc"; }, "\"step\""},
      {[](json& m) { m["step"] = -1; }, "\"step\""},
      {[](json& m) { m["step"] = 1.5; }, "\"step\""},
      {[](json& m) { m.erase("step"); }, "\"step\""},
      {[](json& m) { m["members"] = "w1.npy"; }, "\"members\""},
      {[](json& m) { m["members"][1] = 7; }, "members[1]"},
      {[](json& m) { m["members"][1]["name"] = 7; }, "members[1]"},
      {[](json& m) { m["members"][1].erase("crc32"); }, "crc32"},
      {[](json& m) { m["total_bytes"] = nullptr; }, "total_bytes"},
      {[](json& m) {
         m = json::array({1, 2});
       },
       "not a JSON object"},
  };
  for (const Case& c : cases) {
    json m = manifest_;
    c.mutate(m);
    EXPECT_TRUE(rejects(members_, m, {c.needle})) << m.dump();
  }
  // Not JSON at all.
  std::vector<ZipMember> all = members_;
  all.push_back({"checkpoint.json", "{\"format\": \"groove-checkpoint\", "});
  write_bytes(bad(), serialize_zip(all, NpzCompression::stored, bad()));
  EXPECT_TRUE(throws_mentioning([&] { read_checkpoint_file(bad()); }, {bad(), "not valid JSON"}));
}

TEST_F(CheckpointManifestTest, WrongMemberKinds) {
  // Consistent manifests around members of the wrong kind.
  std::vector<ZipMember> not_npy = members_;
  not_npy[0].bytes = "hello";
  EXPECT_TRUE(rejects(not_npy, manifest_for(not_npy, manifest_), {"w1.npy", "not an NPY file"}));
  std::vector<ZipMember> unsupported = members_;
  unsupported[0].bytes = serialize_npy(Tensor::from_vector<float>({2}, {1, 2}));
  unsupported[0].bytes.replace(unsupported[0].bytes.find("<f4"), 3, "<c8");
  EXPECT_TRUE(rejects(unsupported, manifest_for(unsupported, manifest_), {"w1.npy", "unsupported dtype"}));
  std::vector<ZipMember> text = members_;
  text.insert(text.begin(), ZipMember{"notes.txt", "hi"});
  EXPECT_TRUE(rejects(text, manifest_for(text, manifest_), {"notes.txt", "neither an .npy array nor meta.json"}));
  std::vector<ZipMember> no_meta = members_;
  no_meta.pop_back();
  EXPECT_TRUE(rejects(no_meta, manifest_for(no_meta, manifest_), {"no meta.json"}));
  std::vector<ZipMember> two_meta = members_;
  two_meta.insert(two_meta.begin(), members_.back());
  // Duplicate member names are already a ZIP-level error.
  EXPECT_THROW(serialize_zip(two_meta, NpzCompression::stored, bad()), Error);
}

TEST(CheckpointTest, EveryTruncationOrFlippedByteIsAnErrorOrHarmless) {
  TempDir tmp;
  Checkpoint small;
  small.step = 9;
  small.arrays.push_back({"w", Tensor::from_vector<float>({3}, {1.5f, -2.0f, 0.25f})});
  small.arrays.push_back({"n", Tensor::from_vector<std::int32_t>({2}, {7, -7})});
  small.meta = "{\"a\": 1}";
  save_checkpoint(tmp.path(), small);
  const std::string good = read_bytes(tmp.file("latest.npz"));
  const std::string path = tmp.file("damaged.npz");
  for (std::size_t n = 0; n < good.size(); ++n) {
    write_bytes(path, good.substr(0, n));
    ASSERT_TRUE(throws_mentioning([&] { read_checkpoint_file(path); }, {path})) << "cut at " << n;
  }
  int harmless = 0;
  for (std::size_t i = 0; i < good.size(); ++i) {
    // One flip per byte (the low bit or the high bit, alternately) keeps the test fast.
    {
      const unsigned char mask = i % 2 == 0 ? 0x01 : 0x80;
      std::string bytes = good;
      bytes[i] = static_cast<char>(bytes[i] ^ mask);
      write_bytes(path, bytes);
      try {
        const Checkpoint c = read_checkpoint_file(path);
        // Only fields that do not touch the content (timestamps, attributes) may change silently.
        expect_same(c, small);
        ++harmless;
      } catch (const Error& e) {
        ASSERT_NE(e.message().find(path), std::string::npos) << e.message();
      } catch (const std::exception& e) {
        FAIL() << "byte " << i << " ^ " << int(mask) << ": non-groove exception " << e.what();
      }
    }
  }
  // Most flips must be caught: only header fields such as the DOS time and attributes are unchecked.
  std::cout << harmless << " of " << good.size() << " flips were harmless\n";
  EXPECT_LT(harmless, static_cast<int>(good.size() / 4));
}

TEST(CheckpointTest, NumpyReadsTheFile) {
  if (test::python().empty()) GTEST_SKIP() << "no Python with numpy was found when configuring";
  TempDir tmp;
  Checkpoint c;
  c.step = 77;
  c.arrays.push_back({"w", Tensor::from_vector<float>({3}, {1.5f, -2.0f, 0.25f})});
  c.arrays.push_back({"idx", Tensor::from_vector<std::int32_t>({2, 2}, {1, -2, 3, 4})});
  c.meta = "{\"hash\": \"abc\"}";
  save_checkpoint(tmp.path(), c);
  const std::string script = tmp.file("read.py");
  write_bytes(script,
              "import json, sys\n"
              "import numpy as np\n"
              "z = np.load(sys.argv[1])\n"
              "m = json.loads(z['checkpoint.json'])\n"
              "print(m['step'], z['w'].dtype, z['w'].tolist(), z['idx'].dtype, z['idx'].tolist(),\n"
              "      json.loads(z['meta.json'])['hash'], sorted(z.files))\n");
  std::string output;
  ASSERT_EQ(test::run_python(script, tmp.file("latest.npz"), &output), 0) << output;
  EXPECT_EQ(output,
            "77 float32 [1.5, -2.0, 0.25] int32 [[1, -2], [3, 4]] abc ['checkpoint.json', 'idx', 'meta.json', 'w']\n");
}

}  // namespace
}  // namespace groove::sweep
