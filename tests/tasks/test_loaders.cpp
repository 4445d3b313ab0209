// Tests of the dataset loaders (tasks/loaders.h): round trips with files written by numpy and
// Python's csv module (loaders_roundtrip.py) and by groove (write_npz / write_npy), and a
// groove::Error naming the file and the problem for every kind of bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "runtime/npy.h"
#include "tasks/loaders.h"
#include "tests/common/test_util.h"

namespace groove::tasks {
namespace {

using test::TempDir;

const char* const kScript = GROOVE_SOURCE_DIR "/tests/tasks/loaders_roundtrip.py";

// ---- Helpers -------------------------------------------------------------------------------

std::string q(const std::string& s) {
  return "'" + s + "'";
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// The message of the groove::Error that `f` throws; a failure (and "") when it throws nothing or
// something else.
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.message();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-groove exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "no groove::Error thrown";
  return "";
}

// Expects a groove::Error whose message contains every one of `parts`.
#define EXPECT_LOAD_ERROR(statement, ...)                                      \
  do {                                                                         \
    const std::string message_ = error_of([&] { (void)(statement); });         \
    for (const std::string& part_ : std::vector<std::string>{__VA_ARGS__}) {   \
      EXPECT_NE(message_.find(part_), std::string::npos)                       \
          << "the message lacks \"" << part_ << "\"\n  message: " << message_; \
    }                                                                          \
  } while (0)

Tensor f64(const Shape& shape, const std::vector<double>& values) {
  return Tensor::from_vector<double>(shape, values);
}
Tensor f32(const Shape& shape, const std::vector<float>& values) {
  return Tensor::from_vector<float>(shape, values);
}
Tensor i32(const std::vector<std::int32_t>& values) {
  return Tensor::from_vector<std::int32_t>({static_cast<std::int64_t>(values.size())}, values);
}

// loaders_roundtrip.py's features: row i, column j -> i * 0.5 + j * 0.25 - 1.
double feature(std::int64_t i, std::int64_t j) {
  return static_cast<double>(i) * 0.5 + static_cast<double>(j) * 0.25 - 1;
}
Tensor feature_matrix(std::int64_t first_row, std::int64_t rows, std::int64_t cols) {
  Tensor t = Tensor::host({rows, cols}, DType::f64);
  for (std::int64_t i = 0; i < rows; ++i) {
    for (std::int64_t j = 0; j < cols; ++j) t.flat<double>(i * cols + j) = feature(first_row + i, j);
  }
  return t;
}

double value(const Tensor& t, std::int64_t i) {
  return t.dtype() == DType::f32 ? static_cast<double>(t.flat<float>(i)) : t.flat<double>(i);
}

void expect_features(const Dataset& ds, std::int64_t rows, std::int64_t cols, DType dtype) {
  ASSERT_EQ(ds.x.dtype(), dtype);
  ASSERT_EQ(ds.x.shape(), Shape({rows, cols}));
  for (std::int64_t i = 0; i < rows; ++i) {
    for (std::int64_t j = 0; j < cols; ++j) {
      ASSERT_EQ(value(ds.x, i * cols + j), feature(i, j)) << "row " << i << ", column " << j;
    }
  }
}

void expect_group(const Dataset& ds, const std::string& name, const std::vector<std::int32_t>& rows) {
  ASSERT_TRUE(ds.has_group(name)) << "no group '" << name << "'";
  EXPECT_EQ(ds.group(name).indices, rows) << "group '" << name << "'";
}

std::vector<std::string> group_names(const Dataset& ds) {
  std::vector<std::string> names;
  for (const Group& g : ds.groups) names.push_back(g.name);
  return names;
}

std::vector<std::int32_t> iota(std::int32_t from, std::int32_t to) {
  std::vector<std::int32_t> out;
  for (std::int32_t i = from; i < to; ++i) out.push_back(i);
  return out;
}

// The arrays every loader test starts from: 4 train rows of 2 features, 3 classes; 2 test rows.
std::vector<NamedTensor> base_arrays() {
  return {{"X_train", f64({4, 2}, {1, 2, 3, 4, 5, 6, 7, 8})},
          {"y_train", i32({0, 1, 2, 0})},
          {"X_test", f64({2, 2}, {9, 10, 11, 12})},
          {"y_test", i32({2, 1})}};
}

std::vector<NamedTensor> with(std::vector<NamedTensor> arrays, const std::string& name, const Tensor& t) {
  for (NamedTensor& a : arrays) {
    if (a.name == name) {
      a.tensor = t;
      return arrays;
    }
  }
  arrays.push_back({name, t});
  return arrays;
}

std::vector<NamedTensor> without(std::vector<NamedTensor> arrays, const std::string& name) {
  std::vector<NamedTensor> out;
  for (NamedTensor& a : arrays) {
    if (a.name != name) out.push_back(std::move(a));
  }
  return out;
}

// Python's side: FAILS (does not skip) when no interpreter with numpy was found.
void run_script(const TempDir& dir) {
  ASSERT_FALSE(test::python().empty())
      << "no Python interpreter with numpy was found at configure time; run tools/install-deps";
  std::string out;
  const int rc = test::run_python(q(kScript), "write " + q(dir.path()), &out);
  ASSERT_EQ(rc, 0) << "loaders_roundtrip.py write failed:\n" << out;
}

// ---- NPZ: round trips ----------------------------------------------------------------------

// loaders_roundtrip.py's NPZ data: 8 train rows, 5 test rows, 3 features.
const std::vector<std::int32_t> kYTrain = {0, 1, 2, 0, 1, 2, 0, 1};
const std::vector<std::int32_t> kYTest = {2, 1, 0, 2, 1};
const std::vector<double> kWTrain = {1.0, 0.5, 2.0, 0.0, 1.5, 1.0, 0.25, 3.0};

void expect_numpy_npz(const Dataset& ds, DType dtype, bool weights, const std::vector<std::string>& names) {
  expect_features(ds, 13, 3, dtype);
  std::vector<std::int32_t> y = kYTrain;
  y.insert(y.end(), kYTest.begin(), kYTest.end());
  EXPECT_EQ(ds.y.to_vector<std::int32_t>(), y);
  EXPECT_EQ(ds.num_classes, 3);
  if (weights) {
    ASSERT_TRUE(ds.weights.defined());
    ASSERT_EQ(ds.weights.dtype(), dtype);
    ASSERT_EQ(ds.weights.shape(), Shape({13}));
    for (std::int64_t i = 0; i < 13; ++i) {
      EXPECT_EQ(value(ds.weights, i), i < 8 ? kWTrain[static_cast<std::size_t>(i)] : 1.0) << "weight " << i;
    }
  } else {
    EXPECT_FALSE(ds.weights.defined());
  }
  if (names.empty()) {
    EXPECT_EQ(group_names(ds), (std::vector<std::string>{"train", "test"}));
  } else {
    // group_test = [1, 0, 1, 2, 0] for rows 8..12; groups in id order.
    EXPECT_EQ(group_names(ds), (std::vector<std::string>{"train", "test", names[0], names[1], names[2]}));
    expect_group(ds, names[0], {9, 12});
    expect_group(ds, names[1], {8, 10});
    expect_group(ds, names[2], {11});
  }
  expect_group(ds, "train", iota(0, 8));
  expect_group(ds, "test", iota(8, 13));
}

TEST(NpzLoaderRoundTrip, FilesWrittenByNumpy) {
  TempDir dir;
  run_script(dir);
  const std::vector<std::string> names = {"near", "far", "odd one"};
  {
    SCOPED_TRACE("np.savez with a groups JSON");
    const Dataset ds = load_npz_dataset(dir.file("np_savez.npz"));
    expect_numpy_npz(ds, DType::f32, true, names);
    EXPECT_EQ(ds.task, "npz:" + dir.file("np_savez.npz"));
  }
  {
    SCOPED_TRACE("np.savez, as f64");
    expect_numpy_npz(load_npz_dataset(dir.file("np_savez.npz"), DType::f64), DType::f64, true, names);
  }
  {
    SCOPED_TRACE("np.savez_compressed, float labels with whole values");
    expect_numpy_npz(load_npz_dataset(dir.file("np_compressed.npz")), DType::f32, false, {});
  }
  {
    SCOPED_TRACE("uint8 labels, int16 group ids, default group names");
    expect_numpy_npz(load_npz_dataset(dir.file("np_default_groups.npz"), DType::f64), DType::f64, false,
                     {"group_0", "group_1", "group_2"});
  }
  {
    SCOPED_TRACE("a folder of np.save files with groups.json");
    expect_numpy_npz(load_npz_dataset(dir.file("np_folder")), DType::f32, true, names);
  }
}

TEST(NpzLoaderRoundTrip, NumpyStringArrayIsRejectedWithAHint) {
  TempDir dir;
  run_script(dir);
  EXPECT_LOAD_ERROR(load_npz_dataset(dir.file("np_strings.npz")), dir.file("np_strings.npz"), "groups",
                    "unsupported dtype", "np_strings.groups.json");
}

TEST(NpzLoaderRoundTrip, FilesWrittenByGroove) {
  TempDir dir;
  std::vector<NamedTensor> arrays = {{"X_train", feature_matrix(0, 6, 4)},      {"y_train", i32({1, 0, 1, 0, 2, 2})},
                                     {"w_train", f32({6}, {1, 2, 3, 4, 5, 6})}, {"X_test", feature_matrix(6, 3, 4)},
                                     {"y_test", f32({3}, {2, 0, 1})},           {"group_test", i32({7, 7, 3})}};
  for (NpzCompression c : {NpzCompression::stored, NpzCompression::deflated}) {
    const std::string path = dir.file(c == NpzCompression::stored ? "stored.npz" : "deflated.npz");
    write_npz(path, arrays, c);
    for (DType dtype : {DType::f32, DType::f64}) {
      SCOPED_TRACE(path + " as " + dtype_name(dtype));
      const Dataset ds = load_npz_dataset(path, dtype);
      expect_features(ds, 9, 4, dtype);
      EXPECT_EQ(ds.y.to_vector<std::int32_t>(), (std::vector<std::int32_t>{1, 0, 1, 0, 2, 2, 2, 0, 1}));
      EXPECT_EQ(ds.num_classes, 3);
      ASSERT_TRUE(ds.weights.defined());
      for (std::int64_t i = 0; i < 9; ++i) EXPECT_EQ(value(ds.weights, i), i < 6 ? static_cast<double>(i + 1) : 1.0);
      EXPECT_EQ(group_names(ds), (std::vector<std::string>{"train", "test", "group_3", "group_7"}));
      expect_group(ds, "group_3", {8});
      expect_group(ds, "group_7", {6, 7});
      EXPECT_NO_THROW(ds.validate("reloaded"));
    }
  }
  // The same as a folder of .npy files, with names for ids 0..7.
  const std::string folder = dir.file("folder");
  std::filesystem::create_directory(folder);
  for (const NamedTensor& a : arrays) write_npy(folder + "/" + a.name + ".npy", a.tensor);
  write_text(folder + "/groups.json", R"(["g0", "g1", "g2", "three", "g4", "g5", "g6", "seven"])");
  write_text(folder + "/README.txt", "other files are ignored");
  const Dataset ds = load_npz_dataset(folder);
  expect_features(ds, 9, 4, DType::f32);
  EXPECT_EQ(group_names(ds), (std::vector<std::string>{"train", "test", "three", "seven"}));
  expect_group(ds, "seven", {6, 7});
}

TEST(NpzLoaderRoundTrip, TrainOnly) {
  TempDir dir;
  const std::string path = dir.file("train.npz");
  write_npz(path, {{"X_train", f32({3, 1}, {0.5f, -1.5f, 2})}, {"y_train", i32({1, 0, 1})}});
  const Dataset ds = load_npz_dataset(path);
  EXPECT_EQ(group_names(ds), std::vector<std::string>{"train"});
  EXPECT_EQ(ds.num_classes, 2);
  EXPECT_EQ(ds.x.to_vector<float>(), (std::vector<float>{0.5f, -1.5f, 2}));
  EXPECT_FALSE(ds.weights.defined());
  EXPECT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.dim(), 1);
}

TEST(NpzLoaderRoundTrip, IntegerFeaturesAreConverted) {
  TempDir dir;
  const std::string path = dir.file("ints.npz");
  write_npz(path, {{"X_train", Tensor::from_vector<std::int32_t>({2, 2}, {1, -2, 300, 4})}, {"y_train", i32({0, 0})}});
  const Dataset ds = load_npz_dataset(path, DType::f64);
  EXPECT_EQ(ds.x.to_vector<double>(), (std::vector<double>{1, -2, 300, 4}));
  EXPECT_EQ(ds.num_classes, 1);
}

// ---- NPZ: bad input ------------------------------------------------------------------------

class NpzLoaderErrors : public ::testing::Test {
 protected:
  // Writes `arrays` as an archive and returns its path.
  std::string npz(const std::vector<NamedTensor>& arrays, const std::string& name = "data.npz") {
    const std::string path = dir.file(name);
    write_npz(path, arrays);
    return path;
  }
  TempDir dir;
};

TEST_F(NpzLoaderErrors, MissingRequiredArrays) {
  std::string p = npz(without(base_arrays(), "X_train"));
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "missing array 'X_train'", "arrays present: X_test, y_test, y_train");
  p = npz(without(base_arrays(), "y_train"), "noy.npz");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "missing array 'y_train'");
  const std::string folder = dir.file("folder");
  std::filesystem::create_directory(folder);
  write_npy(folder + "/X_train.npy", f64({1, 1}, {1}));
  EXPECT_LOAD_ERROR(load_npz_dataset(folder), folder, "missing array 'y_train'", "no y_train.npy");
}

TEST_F(NpzLoaderErrors, RowMismatch) {
  std::string p = npz(with(base_arrays(), "y_train", i32({0, 1, 2})));
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "y_train", "has 3 entries but X_train has 4 rows");
  p = npz(with(base_arrays(), "y_test", i32({0, 1, 2})), "test.npz");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "y_test", "has 3 entries but X_test has 2 rows");
}

TEST_F(NpzLoaderErrors, ColumnMismatch) {
  const std::string p = npz(with(base_arrays(), "X_test", f64({2, 3}, {1, 2, 3, 4, 5, 6})));
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "X_test", "has 3 columns but X_train has 2");
}

TEST_F(NpzLoaderErrors, WrongRanks) {
  std::string p = npz(with(base_arrays(), "X_train", f64({4}, {1, 2, 3, 4})));
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "X_train must be a 2-D", "[4]");
  p = npz(with(base_arrays(), "y_train", Tensor::from_vector<std::int32_t>({4, 1}, {0, 1, 2, 0})), "y2d.npz");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "y_train must be a 1-D", "[4, 1]");
}

TEST_F(NpzLoaderErrors, NonFiniteValues) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  std::string p = npz(with(base_arrays(), "X_train", f64({4, 2}, {1, 2, 3, 4, 5, nan, 7, 8})));
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "X_train[2, 1]", "nan", "NaN and Inf are not allowed");
  p = npz(with(base_arrays(), "X_test", f64({2, 2}, {1, 2, -inf, 4})), "inf.npz");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "X_test[1, 0]", "-inf");
  p = npz(with(base_arrays(), "X_train", f64({4, 2}, {1, 2, 3, 4, 5, 6, 7, 1e300})), "big.npz");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "X_train[3, 1]", "overflows f32");
  EXPECT_NO_THROW(load_npz_dataset(p, DType::f64));
}

TEST_F(NpzLoaderErrors, BadLabels) {
  std::string p = npz(with(base_arrays(), "y_train", i32({0, 1, -2, 0})));
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "y_train[2] = -2", "negative");
  p = npz(with(base_arrays(), "y_train", f64({4}, {0, 1, 2.5, 0})), "frac.npz");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "array 'y_train'", "y_train[2] = 2.5", "not an integer label");
  p = npz(with(base_arrays(), "y_test", f32({2}, {1, std::numeric_limits<float>::quiet_NaN()})), "nan.npz");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "y_test[1]", "not an integer label");
  p = npz(with(base_arrays(), "y_train", f64({4}, {0, 1, 2, 1e10})), "huge.npz");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "y_train[3]", "too large");
}

TEST_F(NpzLoaderErrors, ClassWithoutTrainExamples) {
  // Class 3 appears only in y_test.
  std::string p = npz(with(base_arrays(), "y_test", i32({3, 1})));
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "class 3 has no example in y_train", "appears in y_test at 0");
  // Labels 0, 2, 4: classes 1 and 3 have no examples anywhere.
  p = npz(with(without(without(base_arrays(), "X_test"), "y_test"), "y_train", i32({0, 2, 4, 0})), "gap.npz");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "class 1 has no example in y_train", "classes are 0..4");
  // A huge label must not make the loader allocate per class.
  p = npz(with(base_arrays(), "y_test", i32({2, 2000000000})), "huge.npz");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "class 3 has no example in y_train");
}

TEST_F(NpzLoaderErrors, TestArraysComeInPairs) {
  std::string p = npz(without(base_arrays(), "y_test"));
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "X_test is present without y_test");
  p = npz(without(base_arrays(), "X_test"), "noxtest.npz");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "y_test is present without X_test");
  p = npz(with(without(without(base_arrays(), "X_test"), "y_test"), "group_test", i32({0, 0})), "gonly.npz");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "group_test is present without X_test");
}

TEST_F(NpzLoaderErrors, BadGroupIds) {
  std::string p = npz(with(base_arrays(), "group_test", i32({0, 1, 1})));
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "group_test", "has 3 entries but X_test has 2 rows");
  p = npz(with(base_arrays(), "group_test", i32({0, -1})), "neg.npz");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "group_test[1] = -1", "negative");
  p = npz(with(base_arrays(), "group_test", f64({2}, {0, 0.5})), "frac.npz");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "group_test[1] = 0.5", "not an integer group id");
}

TEST_F(NpzLoaderErrors, BadWeights) {
  std::string p = npz(with(base_arrays(), "w_train", f64({4}, {1, 2, -0.5, 1})));
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "w_train[2] = -0.5", "finite and >= 0");
  p = npz(with(base_arrays(), "w_train", f64({4}, {1, std::numeric_limits<double>::infinity(), 0, 1})), "inf.npz");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "w_train[1] = inf", "finite and >= 0");
  p = npz(with(base_arrays(), "w_train", f64({4}, {1, std::nan(""), 0, 1})), "nan.npz");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "w_train[1] = nan");
  p = npz(with(base_arrays(), "w_train", f64({3}, {1, 1, 1})), "short.npz");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "w_train has 3 entries but X_train has 4 rows");
  p = npz(with(base_arrays(), "w_train", f64({2, 2}, {1, 1, 1, 1})), "2d.npz");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "w_train must be a 1-D");
}

TEST_F(NpzLoaderErrors, EmptyArrays) {
  std::string p = npz({{"X_train", Tensor::host({0, 3}, DType::f64)}, {"y_train", Tensor::host({0}, DType::i32)}});
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "X_train is empty", "[0, 3]");
  p = npz(with(base_arrays(), "X_train", Tensor::host({4, 0}, DType::f32)), "nocols.npz");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "X_train is empty", "[4, 0]");
  p = npz(
      with(with(base_arrays(), "X_test", Tensor::host({0, 2}, DType::f64)), "y_test", Tensor::host({0}, DType::i32)),
      "notest.npz");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "X_test is empty");
}

TEST_F(NpzLoaderErrors, UnexpectedArrays) {
  std::string p = npz(with(base_arrays(), "x_test", f64({1, 2}, {1, 2})));
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "unexpected array 'x_test'", "X_train, y_train, w_train");
  const std::string folder = dir.file("folder");
  std::filesystem::create_directory(folder);
  for (const NamedTensor& a : base_arrays()) write_npy(folder + "/" + a.name + ".npy", a.tensor);
  write_npy(folder + "/w_tset.npy", f64({4}, {1, 1, 1, 1}));
  EXPECT_LOAD_ERROR(load_npz_dataset(folder), folder + "/w_tset.npy", "unexpected array file");
}

TEST_F(NpzLoaderErrors, BadGroupNames) {
  const std::string p = npz(with(base_arrays(), "group_test", i32({0, 2})));
  const std::string json = dir.file("data.groups.json");
  EXPECT_NO_THROW(load_npz_dataset(p));  // no names file: group_0, group_2
  write_text(json, R"(["a", "b"])");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p, "group_test[1] = 2", json, "names only 2 groups");
  write_text(json, R"(["a", "b", )");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), json, "not valid JSON");
  write_text(json, R"({"a": 0})");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), json, "expected a JSON list", "object");
  write_text(json, R"(["a", 1, "c"])");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), json, "entry 1 is a number");
  write_text(json, R"(["a", "b", "a"])");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), json, "group name 'a' appears twice", "entries 0 and 2");
  write_text(json, R"(["a", "test", "c"])");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), json, "entry 1 is 'test'", "reserved");
  write_text(json, R"(["a", "", "c"])");
  EXPECT_LOAD_ERROR(load_npz_dataset(p), json, "entry 1 is an empty group name");
  write_text(json, R"(["a", "b", "c"])");
  const Dataset ds = load_npz_dataset(p);
  EXPECT_EQ(group_names(ds), (std::vector<std::string>{"train", "test", "a", "c"}));
  // A names file without group ids.
  const std::string q2 = npz(base_arrays(), "nogroups.npz");
  write_text(dir.file("nogroups.groups.json"), R"(["a"])");
  EXPECT_LOAD_ERROR(load_npz_dataset(q2), dir.file("nogroups.groups.json"), "no group_test array");
}

TEST_F(NpzLoaderErrors, UnreadableFiles) {
  EXPECT_LOAD_ERROR(load_npz_dataset(dir.file("absent.npz")), dir.file("absent.npz"), "cannot read");
  const std::string p = npz(base_arrays());
  std::string bytes;
  {
    std::ifstream in(p, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  write_text(p, bytes.substr(0, bytes.size() / 2));
  EXPECT_LOAD_ERROR(load_npz_dataset(p), p);
  EXPECT_LOAD_ERROR(load_npz_dataset(npz(base_arrays(), "ok.npz"), DType::i32), "ok.npz", "f32 or f64");
}

// ---- CSV: round trips ----------------------------------------------------------------------

TEST(CsvLoaderRoundTrip, FilesWrittenByPythonCsv) {
  TempDir dir;
  run_script(dir);
  const std::vector<std::int32_t> labels = {0, 1, 0, 2, 1, 2, 1, 2, 0};
  {
    SCOPED_TRACE("numeric.csv");
    CsvOptions options;
    options.label_column = "label";
    const Dataset ds = load_csv_dataset(dir.file("numeric.csv"), options);
    expect_features(ds, 9, 3, DType::f32);
    EXPECT_EQ(ds.y.to_vector<std::int32_t>(), labels);
    EXPECT_EQ(ds.num_classes, 3);
    EXPECT_EQ(group_names(ds), std::vector<std::string>{"train"});
    expect_group(ds, "train", iota(0, 9));
    EXPECT_TRUE(ds.info.empty());
    EXPECT_EQ(ds.task, "csv:" + dir.file("numeric.csv"));
  }
  {
    SCOPED_TRACE("names.csv: QUOTE_ALL, names with quotes, commas and a newline, a split column");
    CsvOptions options;
    options.label_column = "class";
    options.group_column = "split";
    options.feature_columns = {"f0", "f1", "f2"};
    options.dtype = DType::f64;
    const Dataset ds = load_csv_dataset(dir.file("names.csv"), options);
    expect_features(ds, 9, 3, DType::f64);
    EXPECT_EQ(ds.y.to_vector<std::int32_t>(), labels);
    EXPECT_EQ(ds.num_classes, 3);
    EXPECT_EQ(ds.info.at("class:plain"), 0);
    EXPECT_EQ(ds.info.at("class:with \"quotes\", and a comma"), 1);
    EXPECT_EQ(ds.info.at("class:two\nlines"), 2);
    EXPECT_EQ(group_names(ds), (std::vector<std::string>{"train", "test", "probe, a"}));
    expect_group(ds, "train", {0, 1, 3, 5, 6, 8});
    expect_group(ds, "test", {2, 4, 7});
    expect_group(ds, "probe, a", {4});
  }
  {
    SCOPED_TRACE("names.csv, features in another order");
    CsvOptions options;
    options.label_column = "class";
    options.feature_columns = {"f2", "f0"};
    const Dataset ds = load_csv_dataset(dir.file("names.csv"), options);
    ASSERT_EQ(ds.x.shape(), Shape({9, 2}));
    for (std::int64_t i = 0; i < 9; ++i) {
      EXPECT_EQ(value(ds.x, 2 * i), feature(i, 2));
      EXPECT_EQ(value(ds.x, 2 * i + 1), feature(i, 0));
    }
    EXPECT_EQ(group_names(ds), std::vector<std::string>{"train"});
  }
}

Dataset parse(const std::string& text, CsvOptions options = {}) {
  if (options.label_column.empty()) options.label_column = "y";
  return parse_csv_dataset(text, "mem.csv", options);
}

TEST(CsvLoaderRoundTrip, FormatDetails) {
  // A UTF-8 byte-order mark, CRLF line ends, blank lines, blanks around cells, signs, exponents,
  // no final line end.
  const Dataset ds = parse("\xEF\xBB\xBFy , a,b\r\n\r\n1, +1.5 ,-2e-3\r\n   \r\n0,\" 7 \",1E2\r\n0,.5,-0");
  EXPECT_EQ(ds.y.to_vector<std::int32_t>(), (std::vector<std::int32_t>{1, 0, 0}));
  EXPECT_EQ(ds.x.to_vector<float>(), (std::vector<float>{1.5f, -2e-3f, 7, 100, 0.5f, -0.0f}));
  // Old Mac line ends (CR only), and a value too small for a double (it becomes 0).
  const Dataset mac = parse("a,y\r1e-400,0\r2,1\r");
  EXPECT_EQ(mac.x.to_vector<float>(), (std::vector<float>{0, 2}));
  // Whole-number labels written as floats.
  EXPECT_EQ(parse("a,y\n1,1.0\n2,0e0\n").y.to_vector<std::int32_t>(), (std::vector<std::int32_t>{1, 0}));
  // A custom train_group; the group "test" joins the test group without a group of its own.
  CsvOptions options;
  options.group_column = "s";
  options.train_group = "fit";
  const Dataset g = parse("s,a,y\nfit,1,0\ntest,2,1\nfit,3,1\nholdout,4,0\n", options);
  EXPECT_EQ(group_names(g), (std::vector<std::string>{"train", "test", "holdout"}));
  expect_group(g, "train", {0, 2});
  expect_group(g, "test", {1, 3});
  expect_group(g, "holdout", {3});
  // An unnamed first column (as pandas writes its index) is a feature like any other.
  EXPECT_EQ(parse(",y\n5,0\n").x.to_vector<float>(), std::vector<float>{5});
}

TEST(CsvLoaderRoundTrip, FileWrittenByGrooveMatchesInMemoryParse) {
  TempDir dir;
  const std::string text = "x1,x2,label\n0.25,1,b\n-1,2,a\n3,4,b\n";
  write_text(dir.file("t.csv"), text);
  CsvOptions options;
  options.label_column = "label";
  const Dataset a = load_csv_dataset(dir.file("t.csv"), options);
  const Dataset b = parse_csv_dataset(text, "t", options);
  EXPECT_EQ(a.x.to_vector<float>(), b.x.to_vector<float>());
  EXPECT_EQ(a.y.to_vector<std::int32_t>(), (std::vector<std::int32_t>{0, 1, 0}));
  EXPECT_EQ(a.info.at("class:b"), 0);
  EXPECT_EQ(a.info.at("class:a"), 1);
}

// ---- CSV: bad input ------------------------------------------------------------------------

TEST(CsvLoaderErrors, EmptyAndMissingHeader) {
  EXPECT_LOAD_ERROR(parse(""), "mem.csv", "empty file");
  EXPECT_LOAD_ERROR(parse("\n  \n\r\n"), "mem.csv", "missing header row");
  EXPECT_LOAD_ERROR(parse("1,2,0\n3,4,1\n"), "mem.csv: line 1", "missing header row", "holds numbers");
  EXPECT_LOAD_ERROR(parse("a,y\n"), "mem.csv", "no data rows");
  TempDir dir;
  write_text(dir.file("empty.csv"), "");
  CsvOptions options;
  options.label_column = "y";
  EXPECT_LOAD_ERROR(load_csv_dataset(dir.file("empty.csv"), options), dir.file("empty.csv"), "empty file");
  EXPECT_LOAD_ERROR(load_csv_dataset(dir.file("absent.csv"), options), dir.file("absent.csv"), "cannot open");
  EXPECT_LOAD_ERROR(load_csv_dataset(dir.path(), options), dir.path(), "not a regular file");
}

TEST(CsvLoaderErrors, UnknownColumns) {
  EXPECT_LOAD_ERROR(parse("a,b,label\n1,2,0\n"), "mem.csv", "unknown label column 'y'", "'a', 'b', 'label'");
  CsvOptions options;
  options.feature_columns = {"a", "c"};
  EXPECT_LOAD_ERROR(parse("a,b,y\n1,2,0\n", options), "unknown feature column 'c'", "'a', 'b', 'y'");
  options = {};
  options.group_column = "split";
  EXPECT_LOAD_ERROR(parse("a,b,y\n1,2,0\n", options), "unknown group column 'split'", "'a', 'b', 'y'");
  options = {};
  options.feature_columns = {"a", "y"};
  EXPECT_LOAD_ERROR(parse("a,b,y\n1,2,0\n", options), "feature column 'y' is the label column");
  options.feature_columns = {"a", "a"};
  EXPECT_LOAD_ERROR(parse("a,b,y\n1,2,0\n", options), "feature column 'a' is listed twice");
  EXPECT_LOAD_ERROR(parse("a,b,a,y\n1,2,3,0\n"), "mem.csv: line 1", "names column 'a' twice", "columns 1 and 3");
  EXPECT_LOAD_ERROR(parse("y\n0\n"), "no feature columns");
  EXPECT_LOAD_ERROR(parse_csv_dataset("a,y\n1,0\n", "mem.csv", CsvOptions{}), "mem.csv", "no label column given");
}

TEST(CsvLoaderErrors, BadCells) {
  EXPECT_LOAD_ERROR(parse("a,b,y\n1,2,0\n3,x4,1\n"), "mem.csv: line 3", "column 'b' (number 2)",
                    "'x4' is not a number");
  EXPECT_LOAD_ERROR(parse("a,b,y\n1,,0\n"), "mem.csv: line 2", "column 'b' (number 2)", "empty cell");
  EXPECT_LOAD_ERROR(parse("a,b,y\n1,2,0\n1,nan,1\n"), "line 3", "column 'b'", "'nan'", "NaN and Inf");
  EXPECT_LOAD_ERROR(parse("a,b,y\n-inf,2,0\n"), "line 2", "column 'a' (number 1)", "'-inf'", "NaN and Inf");
  EXPECT_LOAD_ERROR(parse("a,b,y\n1,1e999,0\n"), "line 2", "column 'b'", "out of the range");
  EXPECT_LOAD_ERROR(parse("a,b,y\n1,1e300,0\n"), "line 2", "column 'b'", "overflows f32");
  CsvOptions f64;
  f64.dtype = DType::f64;
  EXPECT_NO_THROW(parse("a,b,y\n1,1e300,0\n", f64));
  EXPECT_LOAD_ERROR(parse("a,b,y\n1,0x10,0\n"), "line 2", "'0x10' is not a number");
  EXPECT_LOAD_ERROR(parse("a,b,y\n1,2,\n"), "line 2", "column 'y' (number 3)", "empty label");
}

TEST(CsvLoaderErrors, RaggedRows) {
  EXPECT_LOAD_ERROR(parse("a,b,y\n1,2,0\n3,4\n"), "mem.csv: line 3", "ragged row: 2 fields but the header has 3");
  EXPECT_LOAD_ERROR(parse("a,b,y\n1,2,0,9\n"), "mem.csv: line 2", "4 fields but the header has 3");
  // Line numbers count physical lines: a quoted label spans lines 2 and 3, blank line 4.
  EXPECT_LOAD_ERROR(parse("a,y\n1,\"x\ny\"\n\n2\n"), "mem.csv: line 5", "1 field but the header has 2");
}

TEST(CsvLoaderErrors, MalformedQuoting) {
  EXPECT_LOAD_ERROR(parse("a,y\n1,0\n\"2\"x,1\n"), "mem.csv: line 3", "malformed CSV");
  EXPECT_LOAD_ERROR(parse("a,y\n1,0\n2,\"1\n3,0\n"), "mem.csv: line 3", "never closed");
}

TEST(CsvLoaderErrors, BadLabels) {
  EXPECT_LOAD_ERROR(parse("a,y\n1,0\n2,-1\n"), "mem.csv: line 3", "column 'y' (number 2)", "'-1' is negative");
  EXPECT_LOAD_ERROR(parse("a,y\n1,0\n2,1.5\n"), "mem.csv: line 3", "'1.5' is not an integer class id");
  EXPECT_LOAD_ERROR(parse("a,y\n1,0\n2,3e9\n"), "mem.csv: line 3", "too large");
  EXPECT_LOAD_ERROR(parse("a,y\n1,0\n2,cat\n3,1\n"), "mem.csv",
                    "mixes numbers (line 2: '0') and names (line 3: 'cat')");
  // Integer classes 0..2 without a 1.
  EXPECT_LOAD_ERROR(parse("a,y\n1,0\n2,2\n"), "mem.csv", "class 1 has no example in the training rows",
                    "classes are 0..2");
  EXPECT_LOAD_ERROR(parse("a,y\n1,0\n2,2000000000\n"), "mem.csv", "class 1 has no example");
}

TEST(CsvLoaderErrors, Groups) {
  CsvOptions options;
  options.group_column = "s";
  EXPECT_LOAD_ERROR(parse("s,a,y\ntrain,1,cat\ntest,2,dog\n", options), "mem.csv",
                    "class 'dog' (id 1) has no example in the training rows", "line 3", "group 'test'");
  EXPECT_LOAD_ERROR(parse("s,a,y\ntrain,1,0\ntest,2,1\n", options), "class 1 has no example", "line 3");
  EXPECT_LOAD_ERROR(parse("s,a,y\nfit,1,0\ntest,2,0\n", options), "mem.csv", "no training rows",
                    "no row has 'train' in column 's'", "'fit', 'test'");
  EXPECT_LOAD_ERROR(parse("s,a,y\ntrain,1,0\n,2,0\n", options), "mem.csv: line 3", "column 's' (number 1)",
                    "empty group");
  options.train_group = "fit";
  EXPECT_LOAD_ERROR(parse("s,a,y\nfit,1,0\ntrain,2,0\n", options), "mem.csv: line 3", "group 'train' is reserved");
  options.train_group = "";
  EXPECT_LOAD_ERROR(parse("s,a,y\nfit,1,0\n", options), "mem.csv", "train_group is empty");
  options.train_group = "train";
  options.group_column = "y";
  EXPECT_LOAD_ERROR(parse("s,a,y\nfit,1,0\n", options), "mem.csv", "both the label and the group column");
  options.group_column = "s";
  options.feature_columns = {"s"};
  EXPECT_LOAD_ERROR(parse("s,a,y\nfit,1,0\n", options), "mem.csv", "feature column 's' is the group column");
}

TEST(CsvLoaderErrors, ControlBytesAreEscapedInMessages) {
  EXPECT_LOAD_ERROR(parse(std::string("a,y\n\x01\x02") + ",0\n"), "line 2", "'\\x01\\x02' is not a number");
  EXPECT_LOAD_ERROR(parse(std::string("a,y\n1\0,0\n", 9)), "line 2", "'1\\x00' is not a number");
}

// ---- The fuzzing corpus (fuzz/corpus/): seeds and every input that once crashed a fuzz target ----

std::vector<std::string> corpus_files(const std::string& name) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(GROOVE_SOURCE_DIR "/fuzz/corpus/" + name)) {
    if (entry.is_regular_file()) files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Every input either loads or throws groove::Error (as the fuzz targets require).
template <typename F>
void expect_loads_or_groove_error(const std::string& file, F&& f) {
  try {
    f();
  } catch (const Error&) {
  } catch (const std::exception& e) {
    ADD_FAILURE() << file << ": threw a non-groove exception: " << e.what();
  }
}

TEST(NpzLoaderFuzzCorpus, EveryInputLoadsOrThrowsGrooveError) {
  const std::vector<std::string> files = corpus_files("npz");
  ASSERT_GE(files.size(), 5u);
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    expect_loads_or_groove_error(file, [&] { (void)parse_npy(bytes.data(), bytes.size(), file); });
    expect_loads_or_groove_error(file, [&] { (void)load_npz_dataset(file); });
  }
  // The valid seeds load.
  EXPECT_EQ(load_npz_dataset(GROOVE_SOURCE_DIR "/fuzz/corpus/npz/with_test.npz").size(), 10);
  EXPECT_EQ(load_npz_dataset(GROOVE_SOURCE_DIR "/fuzz/corpus/npz/train_only.npz").size(), 6);
}

TEST(CsvLoaderFuzzCorpus, EveryInputLoadsOrThrowsGrooveError) {
  const std::vector<std::string> files = corpus_files("csv");
  ASSERT_GE(files.size(), 5u);
  // The option sets of fuzz/fuzz_csv.cpp.
  const CsvOptions option_sets[] = {
      {"label", {}, "", "train", DType::f32},
      {"label", {}, "split", "train", DType::f32},
      {"label", {"a", "b"}, "split", "fit", DType::f64},
  };
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    for (const CsvOptions& options : option_sets) {
      expect_loads_or_groove_error(file, [&] { (void)load_csv_dataset(file, options); });
    }
  }
  EXPECT_EQ(load_csv_dataset(GROOVE_SOURCE_DIR "/fuzz/corpus/csv/numeric.csv", option_sets[0]).size(), 3);
  EXPECT_EQ(load_csv_dataset(GROOVE_SOURCE_DIR "/fuzz/corpus/csv/names_split.csv", option_sets[1]).size(), 5);
}

}  // namespace
}  // namespace groove::tasks
