// load_neural_npz / load_neural_csv: NeuralDatasets from numpy files (runtime/npy.h) and wide CSV
// files (libcsv, strict mode), checked array by array and cell by cell so every error names the
// file, the array and index or the line and column, and what was expected. Formats:
// tasks/neural_loaders.h and docs/data.md.
#include "tasks/neural_loaders.h"

#include <csv.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "runtime/error.h"
#include "runtime/npy.h"
#include "tasks/csv_records.h"

namespace groove::tasks {
namespace {

using csv::parse_number;
using csv::Parsed;
using csv::show;
using csv::trim;

// Largest magnitude of a whole number held exactly by a double (2^53).
constexpr double kMaxWhole = 9007199254740992.0;
constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// ---------------------------------------------------------------------------------------------
// Small helpers

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string lower_trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  std::string out(s.substr(b, e - b));
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_whole(double v) {
  return std::isfinite(v) && v == std::floor(v) && std::fabs(v) <= kMaxWhole;
}

// A comma-separated list of quoted names, at most `max_items` of them, then "... (N in all)".
std::string name_list(const std::vector<std::string>& names, std::size_t max_items = 20) {
  if (names.empty()) return "(none)";
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < max_items; ++i) out += (i ? ", " : "") + show(names[i]);
  if (names.size() > max_items) out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}

// The label map with normalized keys; `what` prefixes the errors.
std::map<std::string, int> normalized_labels(const NeuralLabelMap& labels, const std::string& what) {
  GROOVE_CHECK(!labels.values.empty(), what, ": NeuralLabelMap::values is empty (need label text -> 0 nontarget, ",
               "1 target or 2 probe)");
  std::map<std::string, int> out;
  std::map<std::string, std::string> original;  // normalized key -> the key as given
  for (const auto& [key, value] : labels.values) {
    GROOVE_CHECK(value >= 0 && value <= 2, what, ": NeuralLabelMap maps ", show(key), " to ", value,
                 " (need 0 nontarget, 1 target or 2 probe)");
    const std::string k = lower_trim(key);
    GROOVE_CHECK(!k.empty(), what, ": NeuralLabelMap has an empty key");
    const auto [it, inserted] = out.emplace(k, value);
    if (inserted) original[k] = key;
    GROOVE_CHECK(inserted || it->second == value, what, ": NeuralLabelMap maps ", show(key), " to ", value, " and ",
                 show(original[k]), " to ", it->second,
                 ", but the two keys are the same label (keys are compared case-insensitively, ignoring blanks)");
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// NPZ: arrays

enum class Kind { responses, labels, stimulus, subject, day };

const char* kind_prefix(Kind k) {
  switch (k) {
    case Kind::responses:
      return "responses_";
    case Kind::labels:
      return "labels_";
    case Kind::stimulus:
      return "stimulus_";
    case Kind::subject:
      return "subject";
    case Kind::day:
      return "day";
  }
  return "";
}

const char* const kLayout =
    "a neural archive holds responses_<i>, labels_<i> and optionally stimulus_<i> for the sessions i = 0 .. S-1, "
    "and optionally subject and day; names go in the '.neural.json' sidecar";

// What an array name is. Session arrays get their index; false for a name that is none of them.
// A malformed index (leading zeros, too large) throws.
bool classify(const std::string& name, const std::string& where, Kind* kind, std::int64_t* index) {
  if (name == "subject" || name == "day") {
    *kind = name == "subject" ? Kind::subject : Kind::day;
    *index = -1;
    return true;
  }
  for (Kind k : {Kind::responses, Kind::labels, Kind::stimulus}) {
    const std::string prefix = kind_prefix(k);
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (!std::all_of(digits.begin(), digits.end(), is_digit)) return false;
    if (digits.size() > 1 && digits[0] == '0') {
      const std::size_t nonzero = digits.find_first_not_of('0');
      GROOVE_THROW(where, ": session index '", digits, "' has a leading zero (name the array ", prefix,
                   nonzero == std::string::npos ? std::string("0") : digits.substr(nonzero), ")");
    }
    GROOVE_CHECK(digits.size() <= 9, where, ": session index ", digits, " is too large");
    *kind = k;
    *index = std::stoll(digits);
    return true;
  }
  return false;
}

// Orders array names by (prefix, index), others by name: responses_2 before responses_10.
std::pair<std::string, std::int64_t> sort_key(const std::string& name) {
  const std::size_t u = name.rfind('_');
  if (u != std::string::npos && u + 1 < name.size() && u + 10 >= name.size() &&
      std::all_of(name.begin() + static_cast<std::ptrdiff_t>(u + 1), name.end(), is_digit)) {
    return {name.substr(0, u + 1), std::stoll(name.substr(u + 1))};
  }
  return {name, -1};
}

struct Source {
  std::string path;  // the archive or the folder
  bool folder = false;
  std::map<std::string, Tensor> arrays;
  std::map<std::int64_t, std::string> responses, labels, stimulus;  // index -> name
  std::vector<std::string> names;                                   // every array, sorted

  // "data.npz: array 'labels_0'" or "data/labels_0.npy".
  std::string where(const std::string& name) const {
    return folder ? path + "/" + name + ".npy" : path + ": array '" + name + "'";
  }
  const Tensor* find(const std::string& name) const {
    const auto it = arrays.find(name);
    return it == arrays.end() ? nullptr : &it->second;
  }
  std::string present() const { return name_list(names, 30); }
  std::string sidecar() const {
    return folder ? path + "/neural.json"
                  : (ends_with(path, ".npz") ? path.substr(0, path.size() - 4) : path) + ".neural.json";
  }
  // Records the names of the arrays (sorted), classifying each; an unknown name throws, listing
  // every array present.
  void set_names(std::vector<std::string> all) {
    std::sort(all.begin(), all.end(),
              [](const std::string& a, const std::string& b) { return sort_key(a) < sort_key(b); });
    for (std::size_t i = 1; i < all.size(); ++i) {
      GROOVE_CHECK(all[i] != all[i - 1], path, ": array '", all[i], "' appears twice");
    }
    for (const std::string& name : all) {
      Kind kind;
      std::int64_t index = -1;
      const std::string w = where(name);
      if (!classify(name, w, &kind, &index)) {
        GROOVE_THROW(folder ? w + ": unexpected array file" : path + ": unexpected array '" + name + "'", " (", kLayout,
                     "); ", folder ? ".npy files" : "arrays", " present: ", name_list(all, 30));
      }
      if (kind == Kind::responses) responses[index] = name;
      if (kind == Kind::labels) labels[index] = name;
      if (kind == Kind::stimulus) stimulus[index] = name;
    }
    names = std::move(all);
  }
};

// Inside a catch block of a read_npz / read_npy error: a numpy string array (which runtime/npy.h
// cannot read) gets a hint about the names file; other errors are rethrown as they are.
void rethrow_with_hint(const Error& e, const std::string& sidecar) {
  if (e.message().find("unsupported dtype") != std::string::npos) {
    GROOVE_THROW(e.message(), " (groove reads float and integer arrays only; numpy string arrays such as subject ",
                 "or neuron names are not supported: put the names in '", sidecar, "', e.g. {\"subjects\": [\"M1\", ",
                 "\"M2\"], \"neurons\": {\"0\": [\"n0\", \"n1\"]}})");
  }
  throw;
}

Source read_source(const std::string& path_or_dir) {
  Source src;
  src.path = path_or_dir;
  std::error_code ec;
  src.folder = std::filesystem::is_directory(path_or_dir, ec);
  if (!src.folder) {
    std::vector<NamedTensor> arrays;
    try {
      arrays = read_npz(path_or_dir);
    } catch (const Error& e) {
      rethrow_with_hint(e, src.sidecar());
    }
    std::vector<std::string> names;
    for (const NamedTensor& a : arrays) names.push_back(a.name);
    src.set_names(names);
    for (NamedTensor& a : arrays) src.arrays.emplace(a.name, std::move(a.tensor));
    return src;
  }
  std::vector<std::string> names;
  for (std::filesystem::directory_iterator it(path_or_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string file = it->path().filename().string();
    if (ends_with(file, ".npy")) names.push_back(file.substr(0, file.size() - 4));
  }
  GROOVE_CHECK(!ec, path_or_dir, ": cannot list the folder: ", ec.message());
  src.set_names(names);
  for (const std::string& name : src.names) {
    try {
      src.arrays.emplace(name, read_npy(src.where(name)));
    } catch (const Error& e) {
      rethrow_with_hint(e, src.sidecar());
    }
  }
  return src;
}

// A 1-D array with `count` entries; `expected` says where the count comes from.
void check_vector(const Source& src, const std::string& name, std::int64_t count, const std::string& expected) {
  const Tensor& t = *src.find(name);
  GROOVE_CHECK(t.ndim() == 1, src.where(name), ": ", name, " must be a 1-D array, got shape ", t.shape().str());
  GROOVE_CHECK(t.dim(0) == count, src.where(name), ": ", name, " has ", t.dim(0), " entries but ", expected);
}

// Entry i of a 1-D array as an integer in [lo, hi]; `kind` names it in messages ("stimulus id"),
// `range` states the range ("must be >= 0").
std::int64_t integer_at(const Source& src, const std::string& name, std::int64_t i, double lo, double hi,
                        const char* kind, const char* range) {
  const double v = src.find(name)->value(i);
  GROOVE_CHECK(std::isfinite(v) && v == std::floor(v), src.where(name), ": ", name, "[", i, "] = ", v,
               " is not an integer ", kind, " (", kind, "s are whole numbers)");
  GROOVE_CHECK(v >= lo && v <= hi, src.where(name), ": ", name, "[", i, "] = ", v, " is out of range (", kind, "s ",
               range, ")");
  return static_cast<std::int64_t>(v);
}

// ---------------------------------------------------------------------------------------------
// NPZ: the JSON sidecar

struct Sidecar {
  bool present = false;
  bool has_subjects = false;  // "subjects" given (possibly empty)
  std::vector<std::string> subjects;
  std::map<std::int64_t, std::vector<std::string>> neurons;  // session index -> names
};

const char* const kSidecarExample = R"({"subjects": ["M1", "M2"], "neurons": {"0": ["n0", "n1"]}})";

// A JSON list of distinct, non-empty strings.
std::vector<std::string> string_list(const nlohmann::json& json, const std::string& file, const std::string& what) {
  GROOVE_CHECK(json.is_array(), file, ": ", what, " must be a list of strings, not a JSON ", json.type_name());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < json.size(); ++i) {
    GROOVE_CHECK(json[i].is_string(), file, ": ", what, "[", i, "] is a ", json[i].type_name(), ", not a string");
    std::string s = json[i].get<std::string>();
    GROOVE_CHECK(!trim(s).empty(), file, ": ", what, "[", i, "] is an empty name");
    const auto dup = std::find(out.begin(), out.end(), s);
    GROOVE_CHECK(dup == out.end(), file, ": ", what, " names ", show(s), " twice (entries ", dup - out.begin(), " and ",
                 i, ")");
    out.push_back(std::move(s));
  }
  return out;
}

Sidecar read_sidecar(const std::string& file) {
  Sidecar out;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) return out;
  out.present = true;
  std::ifstream in(file, std::ios::binary);
  GROOVE_CHECK(in.is_open(), file, ": cannot open the names file");
  std::ostringstream text;
  text << in.rdbuf();
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    GROOVE_THROW(file, ": not valid JSON (", e.what(), "); expected an object like ", kSidecarExample);
  }
  GROOVE_CHECK(json.is_object(), file, ": expected a JSON object like ", kSidecarExample, ", not a JSON ",
               json.type_name());
  for (const auto& [key, value] : json.items()) {
    if (key == "subjects") {
      out.subjects = string_list(value, file, "subjects");
      out.has_subjects = true;
    } else if (key == "neurons") {
      GROOVE_CHECK(value.is_object(), file, ": neurons must be an object mapping session indices to lists of names, ",
                   "like {\"0\": [\"n0\", \"n1\"]}, not a JSON ", value.type_name());
      for (const auto& [session, names] : value.items()) {
        const bool index = !session.empty() && session.size() <= 9 &&
                           std::all_of(session.begin(), session.end(), is_digit) &&
                           (session.size() == 1 || session[0] != '0');
        GROOVE_CHECK(index, file, ": neurons key ", show(session),
                     " is not a session index (the i of responses_<i>: 0, 1, ...)");
        out.neurons[std::stoll(session)] = string_list(names, file, "neurons[\"" + session + "\"]");
      }
    } else {
      GROOVE_THROW(file, ": unknown key ", show(key), " (a names file holds \"subjects\" and \"neurons\", like ",
                   kSidecarExample, ")");
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// CSV: the neural layout

class NeuralCsv {
 public:
  NeuralCsv(const std::string& what, const NeuralCsvOptions& options)
      : what_(what), options_(options), labels_(normalized_labels(options.labels, what)) {}

  NeuralDataset run(std::string_view text);

 private:
  struct Row {
    std::int64_t line = 0;
    std::size_t session = 0;
    std::int32_t label = 0;
    std::string stimulus;  // trimmed cell; empty without a stimulus column
  };
  struct Session {
    std::string subject;
    std::int64_t day = 0;
    std::size_t subject_rank = 0;  // order of first appearance of the subject
    std::vector<std::size_t> rows;
  };

  std::string at(std::int64_t line) const { return what_ + ": line " + std::to_string(line); }
  std::string column(std::size_t c) const {
    return "column " + show(header_[c]) + " (number " + std::to_string(c + 1) + ")";
  }
  std::size_t find_column(const std::string& name, const char* role, std::int64_t line) const;
  void record(const std::vector<std::string>& fields, std::int64_t line);
  void read_header(const std::vector<std::string>& fields, std::int64_t line);
  void read_row(const std::vector<std::string>& fields, std::int64_t line);
  std::vector<std::int32_t> stimulus_ids() const;
  NeuralDataset build() const;

  const std::string& what_;
  const NeuralCsvOptions& options_;
  const std::map<std::string, int> labels_;

  std::vector<std::string> header_;
  bool have_header_ = false;
  std::size_t subject_col_ = kNone, day_col_ = kNone, label_col_ = kNone, stimulus_col_ = kNone;
  std::vector<std::size_t> neuron_cols_;

  std::vector<Row> rows_;
  std::vector<double> values_;  // row-major, one per (row, neuron column)
  std::vector<char> filled_;    // the same: 1 when the cell is non-empty
  std::vector<Session> sessions_;
  std::map<std::pair<std::string, std::int64_t>, std::size_t> session_of_;
  std::map<std::string, std::size_t> subject_rank_;
};

std::size_t NeuralCsv::find_column(const std::string& name, const char* role, std::int64_t line) const {
  for (std::size_t c = 0; c < header_.size(); ++c) {
    if (header_[c] == name) return c;
  }
  std::vector<std::string> columns(header_.begin(), header_.end());
  GROOVE_THROW(what_, ": unknown ", role, " column ", show(name), "; the header (line ", line, ") has the columns ",
               name_list(columns, 40));
}

void NeuralCsv::record(const std::vector<std::string>& fields, std::int64_t line) {
  if (!have_header_) {
    read_header(fields, line);
  } else {
    read_row(fields, line);
  }
}

void NeuralCsv::read_header(const std::vector<std::string>& fields, std::int64_t line) {
  header_ = fields;
  have_header_ = true;
  for (std::size_t c = 0; c < header_.size(); ++c) {
    for (std::size_t d = 0; d < c; ++d) {
      GROOVE_CHECK(header_[d] != header_[c], at(line), ": the header names column ", show(header_[c]),
                   " twice (columns ", d + 1, " and ", c + 1, ")");
    }
  }
  const std::pair<const std::string*, const char*> roles[] = {{&options_.subject_column, "subject_column"},
                                                              {&options_.day_column, "day_column"},
                                                              {&options_.label_column, "label_column"}};
  for (const auto& [name, option] : roles) {
    GROOVE_CHECK(!name->empty(), what_, ": NeuralCsvOptions::", option, " is empty (the column is required)");
  }
  if (std::find(header_.begin(), header_.end(), options_.subject_column) == header_.end()) {
    bool numeric = true;
    for (const std::string& h : header_) {
      double v;
      numeric = numeric && parse_number(h, &v) != Parsed::not_a_number;
    }
    GROOVE_CHECK(!numeric, at(line), ": missing header row: the first line holds numbers (",
                 show(header_.empty() ? std::string() : header_[0]), ", ...), not column names; a header row naming ",
                 "the columns (", show(options_.subject_column), ", ", show(options_.day_column), ", ",
                 show(options_.label_column), " and the neurons) is required");
  }
  subject_col_ = find_column(options_.subject_column, "subject", line);
  day_col_ = find_column(options_.day_column, "day", line);
  label_col_ = find_column(options_.label_column, "label", line);
  if (!options_.stimulus_column.empty()) stimulus_col_ = find_column(options_.stimulus_column, "stimulus", line);
  const std::pair<std::size_t, const char*> cols[] = {
      {subject_col_, "subject"}, {day_col_, "day"}, {label_col_, "label"}, {stimulus_col_, "stimulus"}};
  for (std::size_t i = 0; i < 4; ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      GROOVE_CHECK(cols[i].first == kNone || cols[i].first != cols[j].first, what_, ": column ",
                   show(header_[cols[i].first]), " cannot be both the ", cols[j].second, " and the ", cols[i].second,
                   " column");
    }
  }
  const auto role_of = [&](std::size_t c) -> const char* {
    for (const auto& [col, role] : cols) {
      if (col == c) return role;
    }
    return nullptr;
  };
  if (options_.neuron_columns.empty()) {
    for (std::size_t c = 0; c < header_.size(); ++c) {
      if (role_of(c)) continue;
      GROOVE_CHECK(!trim(header_[c]).empty(), at(line), ": column number ", c + 1,
                   " has no name (a neuron column's name is its neuron id; name it in the header, or list the neuron ",
                   "columns in NeuralCsvOptions::neuron_columns)");
      neuron_cols_.push_back(c);
    }
    std::vector<std::string> columns(header_.begin(), header_.end());
    GROOVE_CHECK(!neuron_cols_.empty(), what_, ": no neuron columns: the header (line ", line,
                 ") has only the columns ", name_list(columns, 40));
  } else {
    for (const std::string& name : options_.neuron_columns) {
      const std::size_t c = find_column(name, "neuron", line);
      const char* role = role_of(c);
      GROOVE_CHECK(role == nullptr, what_, ": neuron column ", show(name), " is the ", role ? role : "", " column");
      GROOVE_CHECK(std::find(neuron_cols_.begin(), neuron_cols_.end(), c) == neuron_cols_.end(), what_,
                   ": neuron column ", show(name), " is listed twice in NeuralCsvOptions::neuron_columns");
      GROOVE_CHECK(!trim(name).empty(), what_, ": neuron column number ", c + 1,
                   " has no name (a neuron column's name is its neuron id)");
      neuron_cols_.push_back(c);
    }
  }
}

void NeuralCsv::read_row(const std::vector<std::string>& fields, std::int64_t line) {
  GROOVE_CHECK(fields.size() == header_.size(), at(line), ": ragged row: ", fields.size(),
               fields.size() == 1 ? " field" : " fields", " but the header has ", header_.size());
  Row row;
  row.line = line;

  const std::string subject(trim(fields[subject_col_]));
  GROOVE_CHECK(!subject.empty(), at(line), ", ", column(subject_col_), ": empty subject");

  const std::string_view day_cell = fields[day_col_];
  GROOVE_CHECK(!trim(day_cell).empty(), at(line), ", ", column(day_col_), ": empty day");
  double day = 0;
  const Parsed parsed_day = parse_number(day_cell, &day);
  GROOVE_CHECK(parsed_day == Parsed::ok && std::isfinite(day) && day == std::floor(day), at(line), ", ",
               column(day_col_), ": day ", show(day_cell), " is not an integer (days are whole numbers, such as 3)");
  GROOVE_CHECK(std::fabs(day) <= kMaxWhole, at(line), ", ", column(day_col_), ": day ", show(day_cell),
               " is too large (days must be within +-2^53)");

  const std::string_view label_cell = fields[label_col_];
  GROOVE_CHECK(!trim(label_cell).empty(), at(line), ", ", column(label_col_), ": empty label");
  auto label = labels_.find(lower_trim(label_cell));
  double number = 0;
  if (label == labels_.end() && parse_number(label_cell, &number) == Parsed::ok && is_whole(number)) {
    label = labels_.find(std::to_string(static_cast<long long>(number)));
  }
  if (label == labels_.end()) {
    std::vector<std::string> allowed;
    for (const auto& [key, value] : options_.labels.values) allowed.push_back(key);
    GROOVE_THROW(at(line), ", ", column(label_col_), ": label ", show(label_cell), " is not one of the labels (",
                 name_list(allowed, 40), "; case-insensitive; see NeuralCsvOptions::labels)");
  }
  row.label = static_cast<std::int32_t>(label->second);

  if (stimulus_col_ != kNone) {
    row.stimulus = std::string(trim(fields[stimulus_col_]));
    GROOVE_CHECK(!row.stimulus.empty(), at(line), ", ", column(stimulus_col_),
                 ": empty stimulus (every trial needs one when a stimulus column is given)");
  }

  for (std::size_t c : neuron_cols_) {
    const std::string& cell = fields[c];
    if (trim(cell).empty()) {
      values_.push_back(0);
      filled_.push_back(0);
      continue;
    }
    double v = 0;
    const Parsed parsed = parse_number(cell, &v);
    GROOVE_CHECK(parsed != Parsed::not_a_number, at(line), ", ", column(c), ": ", show(cell), " is not a number");
    GROOVE_CHECK(parsed != Parsed::overflow, at(line), ", ", column(c), ": ", show(cell),
                 " is out of the range of a double");
    GROOVE_CHECK(std::isfinite(v), at(line), ", ", column(c), ": ", show(cell), " (NaN and Inf are not allowed)");
    values_.push_back(v);
    filled_.push_back(1);
  }

  const auto day_int = static_cast<std::int64_t>(day);
  const auto [it, added] = session_of_.emplace(std::make_pair(subject, day_int), sessions_.size());
  if (added) {
    const auto rank = subject_rank_.emplace(subject, subject_rank_.size()).first->second;
    sessions_.push_back({subject, day_int, rank, {}});
  }
  row.session = it->second;
  sessions_[row.session].rows.push_back(rows_.size());
  rows_.push_back(std::move(row));
}

std::vector<std::int32_t> NeuralCsv::stimulus_ids() const {
  std::vector<std::int32_t> ids(rows_.size(), -1);
  if (stimulus_col_ == kNone) return ids;
  const std::string col = column(stimulus_col_);
  std::size_t first_number = kNone, first_name = kNone;
  std::vector<double> numbers(rows_.size(), 0.0);
  for (std::size_t r = 0; r < rows_.size(); ++r) {
    if (parse_number(rows_[r].stimulus, &numbers[r]) == Parsed::not_a_number) {
      if (first_name == kNone) first_name = r;
    } else if (first_number == kNone) {
      first_number = r;
    }
  }
  if (first_number != kNone && first_name != kNone) {
    GROOVE_THROW(what_, ": ", col, " mixes numbers (line ", rows_[first_number].line, ": ",
                 show(rows_[first_number].stimulus), ") and names (line ", rows_[first_name].line, ": ",
                 show(rows_[first_name].stimulus), "); stimuli must be all integer ids or all names");
  }
  if (first_name == kNone) {
    for (std::size_t r = 0; r < rows_.size(); ++r) {
      const double v = numbers[r];
      GROOVE_CHECK(std::isfinite(v) && v == std::floor(v), at(rows_[r].line), ", ", col, ": stimulus ",
                   show(rows_[r].stimulus), " is not an integer stimulus id");
      GROOVE_CHECK(v >= 0, at(rows_[r].line), ", ", col, ": stimulus ", show(rows_[r].stimulus),
                   " is negative (stimulus ids must be >= 0)");
      GROOVE_CHECK(v < static_cast<double>(std::numeric_limits<std::int32_t>::max()), at(rows_[r].line), ", ", col,
                   ": stimulus ", show(rows_[r].stimulus), " is too large for a stimulus id");
      ids[r] = static_cast<std::int32_t>(v);
    }
  } else {
    std::map<std::string, std::int32_t> id_of;
    for (std::size_t r = 0; r < rows_.size(); ++r) {
      ids[r] = id_of.emplace(rows_[r].stimulus, static_cast<std::int32_t>(id_of.size())).first->second;
    }
  }
  return ids;
}

NeuralDataset NeuralCsv::build() const {
  const std::vector<std::int32_t> stimulus = stimulus_ids();
  std::vector<std::size_t> order(sessions_.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::make_pair(sessions_[a].subject_rank, sessions_[a].day) <
           std::make_pair(sessions_[b].subject_rank, sessions_[b].day);
  });

  const std::size_t n_cols = neuron_cols_.size();
  NeuralDataset out;
  out.source = what_;
  for (std::size_t index : order) {
    const Session& s = sessions_[index];
    NeuralSession ns;
    ns.subject = s.subject;
    ns.day = s.day;
    ns.key = s.subject + "/day" + std::to_string(s.day);
    // The neuron columns with a value in some row of the session; each needs one in every row.
    std::vector<std::size_t> used;     // indices into neuron_cols_
    std::vector<std::size_t> witness;  // a row holding a value in that column
    for (std::size_t k = 0; k < n_cols; ++k) {
      for (std::size_t r : s.rows) {
        if (filled_[r * n_cols + k]) {
          used.push_back(k);
          witness.push_back(r);
          break;
        }
      }
    }
    GROOVE_CHECK(!used.empty(), what_, ": session '", ns.key, "' (", s.rows.size(),
                 s.rows.size() == 1 ? " row" : " rows", ", first on line ", rows_[s.rows.front()].line,
                 ") has no neuron values: every neuron column is empty in its rows");
    for (std::size_t r : s.rows) {
      for (std::size_t u = 0; u < used.size(); ++u) {
        GROOVE_CHECK(filled_[r * n_cols + used[u]], at(rows_[r].line), ", ", column(neuron_cols_[used[u]]),
                     ": empty cell, but the column has a value on line ", rows_[witness[u]].line,
                     " of the same session '", ns.key,
                     "' (a neuron column must be filled in all of a session's rows or in none of them)");
      }
    }
    const auto trials = static_cast<std::int64_t>(s.rows.size());
    const auto neurons = static_cast<std::int64_t>(used.size());
    ns.responses = Tensor::host(Shape{trials, neurons}, DType::f64);
    double* resp = ns.responses.data<double>();
    for (std::size_t t = 0; t < s.rows.size(); ++t) {
      const std::size_t r = s.rows[t];
      for (std::size_t u = 0; u < used.size(); ++u) resp[t * used.size() + u] = values_[r * n_cols + used[u]];
      ns.labels.push_back(rows_[r].label);
      ns.stimulus.push_back(stimulus[r]);
    }
    for (std::size_t k : used) ns.neuron_ids.push_back(header_[neuron_cols_[k]]);
    out.sessions.push_back(std::move(ns));
  }
  return out;
}

NeuralDataset NeuralCsv::run(std::string_view text) {
  GROOVE_CHECK(!text.empty(), what_, ": empty file (a header row and one row per trial are required)");
  csv::read_records(text, what_,
                    [this](const std::vector<std::string>& fields, std::int64_t line) { record(fields, line); });
  GROOVE_CHECK(have_header_, what_, ": missing header row (the file has only blank lines)");
  GROOVE_CHECK(!rows_.empty(), what_, ": no data rows after the header");
  return build();
}

}  // namespace

// ---------------------------------------------------------------------------------------------

NeuralDataset load_neural_npz(const std::string& path_or_dir) {
  const Source src = read_source(path_or_dir);
  const std::string& path = src.path;

  // Session arrays: labels_<i> and stimulus_<i> need responses_<i>; i = 0 .. S-1 without gaps.
  for (const auto* group : {&src.labels, &src.stimulus}) {
    for (const auto& [i, name] : *group) {
      GROOVE_CHECK(src.responses.count(i), src.where(name), ": ", name, " has no responses_", i,
                   src.folder ? " (no responses_" + std::to_string(i) + ".npy in the folder)"
                              : " (no array 'responses_" + std::to_string(i) + "')",
                   "; arrays present: ", src.present());
    }
  }
  GROOVE_CHECK(!src.responses.empty(), path, ": no sessions: missing array 'responses_0' (", kLayout,
               "); arrays present: ", src.present());
  const auto S = static_cast<std::int64_t>(src.responses.size());
  for (std::int64_t i = 0; i < S; ++i) {
    GROOVE_CHECK(src.responses.count(i), path, ": missing array 'responses_", i, "'",
                 src.folder ? " (no responses_" + std::to_string(i) + ".npy)" : std::string(),
                 ": sessions are numbered 0 .. S-1 without gaps, but the highest is responses_",
                 src.responses.rbegin()->first, "; arrays present: ", src.present());
  }
  for (std::int64_t i = 0; i < S; ++i) {
    GROOVE_CHECK(src.labels.count(i), path, ": missing array 'labels_", i, "' for responses_", i,
                 src.folder ? " (no labels_" + std::to_string(i) + ".npy)" : std::string(),
                 "; arrays present: ", src.present());
  }

  const Sidecar names = read_sidecar(src.sidecar());
  const std::string sidecar = src.sidecar();

  // Subjects and days.
  const std::string sessions_of = "there " +
                                  std::string(S == 1 ? "is 1 session" : "are " + std::to_string(S) + " sessions") +
                                  " (responses_0 .. responses_" + std::to_string(S - 1) + ")";
  std::vector<std::int64_t> subject(static_cast<std::size_t>(S), 0), day(static_cast<std::size_t>(S));
  for (std::int64_t i = 0; i < S; ++i) day[static_cast<std::size_t>(i)] = i + 1;
  if (src.find("subject")) {
    check_vector(src, "subject", S, sessions_of);
    for (std::int64_t i = 0; i < S; ++i) {
      subject[static_cast<std::size_t>(i)] = integer_at(
          src, "subject", i, 0, std::numeric_limits<std::int32_t>::max() - 1.0, "subject id", "must be 0 .. 2^31 - 2");
    }
  }
  if (src.find("day")) {
    check_vector(src, "day", S, sessions_of);
    for (std::int64_t i = 0; i < S; ++i) {
      day[static_cast<std::size_t>(i)] =
          integer_at(src, "day", i, -kMaxWhole, kMaxWhole, "day", "must be within +-2^53");
    }
  }
  std::vector<std::string> subject_name(static_cast<std::size_t>(S));
  for (std::int64_t i = 0; i < S; ++i) {
    const std::int64_t id = subject[static_cast<std::size_t>(i)];
    if (!names.has_subjects) {
      subject_name[static_cast<std::size_t>(i)] = "S" + std::to_string(id);
      continue;
    }
    const auto named = static_cast<std::int64_t>(names.subjects.size());
    if (id >= named) {
      const bool array = src.find("subject") != nullptr;
      GROOVE_THROW(array ? src.where("subject") : path, ": ",
                   array ? "subject[" + std::to_string(i) + "] = " + std::to_string(id)
                         : std::string("subject id 0 (no subject array)"),
                   " but ", sidecar, " names only ", named, named == 1 ? " subject" : " subjects",
                   named > 0 ? " (ids 0.." + std::to_string(named - 1) + ")" : std::string(),
                   "; subjects[id] names subject id");
    }
    subject_name[static_cast<std::size_t>(i)] = names.subjects[static_cast<std::size_t>(id)];
  }
  std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> seen;
  for (std::int64_t i = 0; i < S; ++i) {
    const auto key = std::make_pair(subject[static_cast<std::size_t>(i)], day[static_cast<std::size_t>(i)]);
    const auto [it, added] = seen.emplace(key, i);
    GROOVE_CHECK(added, src.where("day"), ": sessions ", it->second, " and ", i, " are both subject ",
                 show(subject_name[static_cast<std::size_t>(i)]), " (id ", key.first, "), day ", key.second,
                 "; each (subject, day) pair must be unique (check the subject and day arrays)");
  }
  for (const auto& [i, list] : names.neurons) {
    GROOVE_CHECK(i < S, sidecar, ": neurons names session ", i, " but the archive has ", S,
                 " sessions (responses_0 .. responses_", S - 1, ")");
  }

  // Sessions, by archive index.
  std::vector<NeuralSession> sessions(static_cast<std::size_t>(S));
  for (std::int64_t i = 0; i < S; ++i) {
    NeuralSession& s = sessions[static_cast<std::size_t>(i)];
    const std::string rname = "responses_" + std::to_string(i), lname = "labels_" + std::to_string(i),
                      sname = "stimulus_" + std::to_string(i);
    const Tensor& r = *src.find(rname);
    const std::string rw = src.where(rname);
    GROOVE_CHECK(r.ndim() == 2, rw, ": ", rname, " must be a 2-D [trials, neurons] array, got shape ", r.shape().str());
    GROOVE_CHECK(r.dim(0) > 0 && r.dim(1) > 0, rw, ": ", rname, " is empty (shape ", r.shape().str(),
                 "; a session needs at least one trial and one neuron)");
    const std::int64_t trials = r.dim(0), neurons = r.dim(1);
    s.responses = Tensor::host(r.shape(), DType::f64);
    double* out = s.responses.data<double>();
    for (std::int64_t k = 0; k < r.numel(); ++k) {
      const double v = r.value(k);
      GROOVE_CHECK(std::isfinite(v), rw, ": ", rname, "[", k / neurons, ", ", k % neurons, "] is ", v,
                   " (NaN and Inf are not allowed)");
      out[k] = v;
    }

    const std::string trials_of = rname + " has " + std::to_string(trials) + " trials (rows)";
    check_vector(src, lname, trials, trials_of);
    const Tensor& l = *src.find(lname);
    for (std::int64_t t = 0; t < trials; ++t) {
      const double v = l.value(t);
      GROOVE_CHECK(v == 0 || v == 1 || v == 2, src.where(lname), ": ", lname, "[", t, "] = ", v,
                   " is not a trial label (expected 0 nontarget, 1 target or 2 probe)");
      s.labels.push_back(static_cast<std::int32_t>(v));
    }
    if (src.find(sname)) {
      check_vector(src, sname, trials, trials_of);
      for (std::int64_t t = 0; t < trials; ++t) {
        s.stimulus.push_back(static_cast<std::int32_t>(integer_at(
            src, sname, t, 0, std::numeric_limits<std::int32_t>::max() - 1.0, "stimulus id", "must be 0 .. 2^31 - 2")));
      }
    } else {
      s.stimulus.assign(static_cast<std::size_t>(trials), -1);
    }

    const auto ids = names.neurons.find(i);
    if (ids != names.neurons.end()) {
      GROOVE_CHECK(static_cast<std::int64_t>(ids->second.size()) == neurons, sidecar, ": neurons[\"", i, "\"] has ",
                   ids->second.size(), " names but ", rname, " has ", neurons, " neurons (columns)");
      s.neuron_ids = ids->second;
    } else {
      for (std::int64_t j = 0; j < neurons; ++j) s.neuron_ids.push_back("n" + std::to_string(j));
    }
    s.subject = subject_name[static_cast<std::size_t>(i)];
    s.day = day[static_cast<std::size_t>(i)];
    s.key = s.subject + "/day" + std::to_string(s.day);
  }

  // Subject id order, then day.
  std::vector<std::int64_t> order(static_cast<std::size_t>(S));
  for (std::int64_t i = 0; i < S; ++i) order[static_cast<std::size_t>(i)] = i;
  std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    const auto ua = static_cast<std::size_t>(a), ub = static_cast<std::size_t>(b);
    return std::make_pair(subject[ua], day[ua]) < std::make_pair(subject[ub], day[ub]);
  });
  NeuralDataset ds;
  ds.source = path;
  for (std::int64_t i : order) ds.sessions.push_back(std::move(sessions[static_cast<std::size_t>(i)]));
  ds.validate(path);
  return ds;
}

NeuralDataset parse_neural_csv(std::string_view text, const std::string& what, const NeuralCsvOptions& options) {
  NeuralDataset ds = NeuralCsv(what, options).run(text);
  ds.validate(what);
  return ds;
}

NeuralDataset load_neural_csv(const std::string& path, const NeuralCsvOptions& options) {
  struct stat st {};
  GROOVE_CHECK(::stat(path.c_str(), &st) == 0, path, ": cannot open the CSV file: ", std::strerror(errno));
  GROOVE_CHECK(S_ISREG(st.st_mode), path, ": not a regular file");
  std::ifstream in(path, std::ios::binary);
  GROOVE_CHECK(in.is_open(), path, ": cannot open the CSV file: ", std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  GROOVE_CHECK(!in.bad(), path, ": cannot read the CSV file");
  return parse_neural_csv(text.str(), path, options);
}

}  // namespace groove::tasks
