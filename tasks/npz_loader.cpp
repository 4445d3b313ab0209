// load_npz_dataset: a Dataset from an .npz archive or a folder of .npy files (numpy's formats,
// read by runtime/npy.h), validated array by array so every error names the file, the array and
// the first bad index.
#include <sys/stat.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "runtime/npy.h"
#include "tasks/loaders.h"

namespace groove::tasks {
namespace {

const char* const kArrayNames[] = {"X_train", "y_train", "w_train", "X_test", "y_test", "group_test"};

bool is_known_array(const std::string& name) {
  return std::find(std::begin(kArrayNames), std::end(kArrayNames), name) != std::end(kArrayNames);
}

std::string known_arrays() {
  std::string out;
  for (const char* name : kArrayNames) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_regular_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The arrays of one source, and how to name an array's file in messages.
struct Source {
  std::string path;  // the archive or the folder
  bool folder = false;
  std::map<std::string, Tensor> arrays;

  // "data.npz: array 'X_train'" or "data/X_train.npy".
  std::string where(const std::string& name) const {
    return folder ? path + "/" + name + ".npy" : path + ": array '" + name + "'";
  }
  const Tensor* find(const std::string& name) const {
    const auto it = arrays.find(name);
    return it == arrays.end() ? nullptr : &it->second;
  }
  std::string present() const {
    std::string out;
    for (const auto& [name, t] : arrays) out += (out.empty() ? "" : ", ") + name;
    return out.empty() ? "(none)" : out;
  }
};

Source read_archive(const std::string& path) {
  Source src;
  src.path = path;
  std::vector<NamedTensor> arrays;
  try {
    arrays = read_npz(path);
  } catch (const Error& e) {
    const std::string& msg = e.message();
    if (msg.find("unsupported dtype") != std::string::npos) {
      GROOVE_THROW(msg, " (groove reads float and integer arrays only; numpy string arrays such as group names ",
                   "are not supported: list the names of group_test's ids in a JSON file next to the archive, ",
                   "e.g. '", path.substr(0, path.size() - (ends_with(path, ".npz") ? 4 : 0)), ".groups.json')");
    }
    throw;
  }
  for (NamedTensor& a : arrays) {
    GROOVE_CHECK(is_known_array(a.name), path, ": unexpected array '", a.name, "' (a dataset archive holds ",
                 known_arrays(), "; group names go in a '.groups.json' file)");
    GROOVE_CHECK(src.arrays.emplace(a.name, a.tensor).second, path, ": array '", a.name, "' appears twice");
  }
  return src;
}

Source read_folder(const std::string& dir) {
  Source src;
  src.path = dir;
  src.folder = true;
  std::vector<std::string> files;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    files.push_back(it->path().filename().string());
  }
  GROOVE_CHECK(!ec, dir, ": cannot list the folder: ", ec.message());
  std::sort(files.begin(), files.end());
  for (const std::string& file : files) {
    if (!ends_with(file, ".npy")) continue;
    const std::string name = file.substr(0, file.size() - 4);
    GROOVE_CHECK(is_known_array(name), dir, "/", file, ": unexpected array file (a dataset folder holds ",
                 known_arrays(), " as .npy files; group names go in groups.json)");
    src.arrays.emplace(name, read_npy(dir + "/" + file));
  }
  return src;
}

// A [rows, D] feature matrix converted to `dtype`, every value finite (and within f32's range for
// f32). `expect_cols` >= 0 requires that many columns.
Tensor features(const Source& src, const std::string& name, DType dtype, std::int64_t expect_cols,
                const std::string& cols_of) {
  const Tensor& t = *src.find(name);
  const std::string w = src.where(name);
  GROOVE_CHECK(t.ndim() == 2, w, ": ", name, " must be a 2-D [rows, features] array, got shape ", t.shape().str());
  GROOVE_CHECK(t.dim(0) > 0 && t.dim(1) > 0, w, ": ", name, " is empty (shape ", t.shape().str(), ")");
  if (expect_cols >= 0) {
    GROOVE_CHECK(t.dim(1) == expect_cols, w, ": ", name, " has ", t.dim(1), " columns but ", cols_of, " has ",
                 expect_cols);
  }
  const std::int64_t cols = t.dim(1);
  Tensor out = Tensor::host(t.shape(), dtype);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    const double v = t.value(i);
    GROOVE_CHECK(std::isfinite(v), w, ": ", name, "[", i / cols, ", ", i % cols, "] is ", v,
                 " (NaN and Inf are not allowed)");
    if (dtype == DType::f32) {
      GROOVE_CHECK(std::fabs(v) <= static_cast<double>(FLT_MAX), w, ": ", name, "[", i / cols, ", ", i % cols,
                   "] = ", v, " overflows f32 (load with dtype f64)");
      out.flat<float>(i) = static_cast<float>(v);
    } else if (dtype == DType::f64) {
      out.flat<double>(i) = v;
    } else {
      GROOVE_THROW(w, ": features must be loaded as f32 or f64, not ", dtype_name(dtype));
    }
  }
  return out;
}

// A 1-D array of non-negative integers (class labels or group ids) with `rows` entries. Float
// arrays must hold whole numbers.
std::vector<std::int32_t> integers(const Source& src, const std::string& name, std::int64_t rows,
                                   const std::string& rows_of, const char* kind) {
  const Tensor& t = *src.find(name);
  const std::string w = src.where(name);
  GROOVE_CHECK(t.ndim() == 1, w, ": ", name, " must be a 1-D array of ", kind, "s, got shape ", t.shape().str());
  GROOVE_CHECK(t.dim(0) == rows, w, ": ", name, " has ", t.dim(0), " entries but ", rows_of, " has ", rows, " rows");
  std::vector<std::int32_t> out(static_cast<std::size_t>(rows));
  for (std::int64_t i = 0; i < rows; ++i) {
    const double v = t.value(i);
    GROOVE_CHECK(std::isfinite(v) && v == std::floor(v), w, ": ", name, "[", i, "] = ", v, " is not an integer ", kind,
                 " (", kind, "s must be whole numbers)");
    GROOVE_CHECK(v >= 0, w, ": ", name, "[", i, "] = ", v, " is negative (", kind, "s must be >= 0)");
    GROOVE_CHECK(v < static_cast<double>(std::numeric_limits<std::int32_t>::max()), w, ": ", name, "[", i, "] = ", v,
                 " is too large for a ", kind);
    out[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(v);
  }
  return out;
}

// Group names from a JSON list of strings.
std::vector<std::string> read_group_names(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  GROOVE_CHECK(in.is_open(), file, ": cannot open the group names file");
  std::ostringstream text;
  text << in.rdbuf();
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    GROOVE_THROW(file, ": not valid JSON (", e.what(), "); expected a list of group names like [\"a\", \"b\"]");
  }
  GROOVE_CHECK(json.is_array(), file, ": expected a JSON list of group names like [\"a\", \"b\"], not a JSON ",
               json.type_name());
  std::vector<std::string> names;
  for (std::size_t i = 0; i < json.size(); ++i) {
    GROOVE_CHECK(json[i].is_string(), file, ": entry ", i, " is a ", json[i].type_name(),
                 ", not a string (group names must be strings)");
    std::string name = json[i].get<std::string>();
    GROOVE_CHECK(!name.empty(), file, ": entry ", i, " is an empty group name");
    GROOVE_CHECK(name != "train" && name != "test", file, ": entry ", i, " is '", name,
                 "', which is reserved for the train / test groups");
    GROOVE_CHECK(std::find(names.begin(), names.end(), name) == names.end(), file, ": group name '", name,
                 "' appears twice (entries ", std::find(names.begin(), names.end(), name) - names.begin(), " and ", i,
                 ")");
    names.push_back(std::move(name));
  }
  return names;
}

// The first class in [0, max_label] that has no label in `train` (sorted unique), or -1.
std::int64_t first_missing_class(std::vector<std::int32_t> train, std::int32_t max_label) {
  std::sort(train.begin(), train.end());
  train.erase(std::unique(train.begin(), train.end()), train.end());
  for (std::size_t i = 0; i < train.size(); ++i) {
    if (train[i] != static_cast<std::int32_t>(i)) return static_cast<std::int64_t>(i);
  }
  return static_cast<std::int64_t>(train.size()) <= max_label ? static_cast<std::int64_t>(train.size()) : -1;
}

}  // namespace

Dataset load_npz_dataset(const std::string& path_or_dir, DType dtype) {
  GROOVE_CHECK(dtype == DType::f32 || dtype == DType::f64, path_or_dir, ": features must be loaded as f32 or f64, not ",
               dtype_name(dtype));
  const bool folder = is_directory(path_or_dir);
  const Source src = folder ? read_folder(path_or_dir) : read_archive(path_or_dir);
  const std::string& path = src.path;
  for (const char* required : {"X_train", "y_train"}) {
    GROOVE_CHECK(src.find(required), path, ": missing array '", required, "'",
                 folder ? std::string(" (no ") + required + ".npy in the folder)" : std::string(),
                 "; arrays present: ", src.present());
  }
  const bool has_test = src.find("X_test") != nullptr;
  GROOVE_CHECK(has_test == (src.find("y_test") != nullptr), path, ": ", has_test ? "X_test" : "y_test",
               " is present without ", has_test ? "y_test" : "X_test", " (give both or neither)");
  GROOVE_CHECK(has_test || !src.find("group_test"), path, ": group_test is present without X_test / y_test");

  // Features and labels.
  const Tensor x_train = features(src, "X_train", dtype, -1, "");
  const std::int64_t n_train = x_train.dim(0), cols = x_train.dim(1);
  const std::vector<std::int32_t> y_train = integers(src, "y_train", n_train, "X_train", "label");
  Tensor x_test;
  std::vector<std::int32_t> y_test, group_test;
  std::int64_t n_test = 0;
  if (has_test) {
    x_test = features(src, "X_test", dtype, cols, "X_train");
    n_test = x_test.dim(0);
    y_test = integers(src, "y_test", n_test, "X_test", "label");
    if (src.find("group_test")) group_test = integers(src, "group_test", n_test, "X_test", "group id");
  }
  const std::int64_t n = n_train + n_test;
  GROOVE_CHECK(n <= std::numeric_limits<std::int32_t>::max(), path, ": ", n, " rows; at most 2^31 - 1 are supported");

  // Classes: 0 .. max label; each needs a train example.
  std::int32_t max_label = 0;
  for (std::int32_t v : y_train) max_label = std::max(max_label, v);
  for (std::int32_t v : y_test) max_label = std::max(max_label, v);
  const std::int64_t missing = first_missing_class(y_train, max_label);
  if (missing >= 0) {
    const auto in_test = std::find(y_test.begin(), y_test.end(), static_cast<std::int32_t>(missing));
    if (in_test != y_test.end()) {
      GROOVE_THROW(src.where("y_train"), ": class ", missing, " has no example in y_train (it appears in y_test at ",
                   in_test - y_test.begin(), "); every class needs a training example");
    }
    GROOVE_THROW(src.where("y_train"), ": class ", missing, " has no example in y_train (the labels go up to ",
                 max_label, ", so the classes are 0..", max_label, "; every class needs a training example)");
  }

  Dataset ds;
  ds.task = "npz:" + path;
  ds.num_classes = static_cast<std::int64_t>(max_label) + 1;
  ds.x = Tensor::host({n, cols}, dtype);
  std::copy_n(static_cast<const char*>(x_train.raw()), x_train.nbytes(), static_cast<char*>(ds.x.raw()));
  if (has_test) {
    std::copy_n(static_cast<const char*>(x_test.raw()), x_test.nbytes(),
                static_cast<char*>(ds.x.raw()) + x_train.nbytes());
  }
  std::vector<std::int32_t> labels = y_train;
  labels.insert(labels.end(), y_test.begin(), y_test.end());
  ds.y = Tensor::from_vector<std::int32_t>({n}, labels);

  // Example weights: w_train for train rows, 1 for test rows.
  if (const Tensor* w = src.find("w_train")) {
    const std::string where = src.where("w_train");
    GROOVE_CHECK(w->ndim() == 1, where, ": w_train must be a 1-D array of example weights, got shape ",
                 w->shape().str());
    GROOVE_CHECK(w->dim(0) == n_train, where, ": w_train has ", w->dim(0), " entries but X_train has ", n_train,
                 " rows");
    ds.weights = Tensor::host({n}, dtype);
    for (std::int64_t i = 0; i < n; ++i) {
      const double v = i < n_train ? w->value(i) : 1.0;
      GROOVE_CHECK(std::isfinite(v) && v >= 0, where, ": w_train[", i, "] = ", v, " (weights must be finite and >= 0)");
      GROOVE_CHECK(dtype != DType::f32 || v <= static_cast<double>(FLT_MAX), where, ": w_train[", i, "] = ", v,
                   " overflows f32");
      if (dtype == DType::f32) {
        ds.weights.flat<float>(i) = static_cast<float>(v);
      } else {
        ds.weights.flat<double>(i) = v;
      }
    }
  }

  // Groups.
  Group train{"train", {}};
  train.indices.resize(static_cast<std::size_t>(n_train));
  for (std::int64_t i = 0; i < n_train; ++i) train.indices[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(i);
  ds.groups.push_back(std::move(train));
  if (has_test) {
    Group test{"test", {}};
    for (std::int64_t i = n_train; i < n; ++i) test.indices.push_back(static_cast<std::int32_t>(i));
    ds.groups.push_back(std::move(test));
  }
  const std::string names_file =
      folder ? path + "/groups.json"
             : (ends_with(path, ".npz") ? path.substr(0, path.size() - 4) : path) + ".groups.json";
  const bool has_names = is_regular_file(names_file);
  GROOVE_CHECK(!has_names || !group_test.empty(), names_file, ": group names are given but ", path,
               " has no group_test array to use them");
  if (!group_test.empty()) {
    const std::vector<std::string> names = has_names ? read_group_names(names_file) : std::vector<std::string>();
    std::map<std::int32_t, std::vector<std::int32_t>> by_id;  // ordered by id
    for (std::int64_t i = 0; i < n_test; ++i) {
      const std::int32_t id = group_test[static_cast<std::size_t>(i)];
      GROOVE_CHECK(!has_names || static_cast<std::size_t>(id) < names.size(), src.where("group_test"), ": group_test[",
                   i, "] = ", id, " but ", names_file, " names only ", names.size(), " groups (ids 0..",
                   static_cast<std::int64_t>(names.size()) - 1, ")");
      by_id[id].push_back(static_cast<std::int32_t>(n_train + i));
    }
    for (auto& [id, rows] : by_id) {
      ds.groups.push_back(
          {has_names ? names[static_cast<std::size_t>(id)] : "group_" + std::to_string(id), std::move(rows)});
    }
  }
  ds.validate(path);
  return ds;
}

}  // namespace groove::tasks
