// load_csv_dataset: a Dataset from a CSV file, parsed with libcsv (RFC 4180 quoting, strict mode).
// Every error names the file and the line, and the column by name and number where one is at
// fault. Records and cells: tasks/csv_records.h.
#include <csv.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tasks/csv_records.h"
#include "tasks/loaders.h"

namespace groove::tasks {
namespace {

using csv::parse_number;
using csv::Parsed;
using csv::show;
using csv::trim;

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

class CsvParser {
 public:
  CsvParser(const std::string& what, const CsvOptions& options) : what_(what), options_(options) {}

  Dataset run(std::string_view text);

 private:
  std::string at(std::int64_t line) const { return what_ + ": line " + std::to_string(line); }
  std::string column(std::size_t c) const {
    return "column " + show(header_[c]) + " (number " + std::to_string(c + 1) + ")";
  }
  std::string columns() const {
    std::string out;
    for (const std::string& h : header_) out += (out.empty() ? "" : ", ") + show(h);
    return out;
  }
  std::size_t find_column(const std::string& name, const char* role) const;
  void record();
  void read_header();
  void read_row();
  Dataset build();

  const std::string& what_;
  const CsvOptions& options_;
  const std::vector<std::string>* record_ = nullptr;  // the record being read
  std::int64_t record_line_ = 0;                      // line where it starts

  std::vector<std::string> header_;
  bool have_header_ = false;
  std::size_t label_col_ = kNone, group_col_ = kNone;
  std::vector<std::size_t> feature_cols_;

  std::vector<double> values_;  // row-major features
  std::vector<std::string> labels_, groups_;
  std::vector<std::int64_t> lines_;  // line of each row
};

std::size_t CsvParser::find_column(const std::string& name, const char* role) const {
  for (std::size_t c = 0; c < header_.size(); ++c) {
    if (header_[c] == name) return c;
  }
  GROOVE_THROW(what_, ": unknown ", role, " column ", show(name), "; the header (line ", record_line_,
               ") has the columns ", columns());
}

void CsvParser::record() {
  if (!have_header_) {
    read_header();
  } else {
    read_row();
  }
}

void CsvParser::read_header() {
  header_ = *record_;
  have_header_ = true;
  for (std::size_t c = 0; c < header_.size(); ++c) {
    for (std::size_t d = 0; d < c; ++d) {
      GROOVE_CHECK(header_[d] != header_[c], at(record_line_), ": the header names column ", show(header_[c]),
                   " twice (columns ", d + 1, " and ", c + 1, ")");
    }
  }
  GROOVE_CHECK(!options_.label_column.empty(), what_,
               ": no label column given (CsvOptions::label_column); columns: ", columns());
  const bool has_label = std::find(header_.begin(), header_.end(), options_.label_column) != header_.end();
  if (!has_label) {
    bool numeric = true;
    for (const std::string& h : header_) {
      double v;
      numeric = numeric && parse_number(h, &v) != Parsed::not_a_number;
    }
    GROOVE_CHECK(!numeric, at(record_line_), ": missing header row: the first line holds numbers (",
                 show(header_.empty() ? std::string() : header_[0]), ", ...), not column names; a header row naming ",
                 "the columns (including the label column ", show(options_.label_column), ") is required");
  }
  label_col_ = find_column(options_.label_column, "label");
  if (!options_.group_column.empty()) {
    GROOVE_CHECK(!options_.train_group.empty(), what_, ": CsvOptions::train_group is empty (the value of column ",
                 show(options_.group_column), " that marks training rows)");
    group_col_ = find_column(options_.group_column, "group");
    GROOVE_CHECK(group_col_ != label_col_, what_, ": column ", show(options_.group_column),
                 " cannot be both the label and the group column");
  }
  if (options_.feature_columns.empty()) {
    for (std::size_t c = 0; c < header_.size(); ++c) {
      if (c != label_col_ && c != group_col_) feature_cols_.push_back(c);
    }
    GROOVE_CHECK(!feature_cols_.empty(), what_, ": no feature columns: the header (line ", record_line_,
                 ") has only the columns ", columns());
  } else {
    for (const std::string& name : options_.feature_columns) {
      const std::size_t c = find_column(name, "feature");
      GROOVE_CHECK(c != label_col_, what_, ": feature column ", show(name), " is the label column");
      GROOVE_CHECK(c != group_col_, what_, ": feature column ", show(name), " is the group column");
      GROOVE_CHECK(std::find(feature_cols_.begin(), feature_cols_.end(), c) == feature_cols_.end(), what_,
                   ": feature column ", show(name), " is listed twice");
      feature_cols_.push_back(c);
    }
  }
}

void CsvParser::read_row() {
  GROOVE_CHECK((*record_).size() == header_.size(), at(record_line_), ": ragged row: ", (*record_).size(),
               (*record_).size() == 1 ? " field" : " fields", " but the header has ", header_.size());
  for (std::size_t c : feature_cols_) {
    const std::string& cell = (*record_)[c];
    double v = 0;
    const Parsed parsed = parse_number(cell, &v);
    GROOVE_CHECK(!trim(cell).empty(), at(record_line_), ", ", column(c),
                 ": empty cell (missing values are not allowed)");
    GROOVE_CHECK(parsed != Parsed::not_a_number, at(record_line_), ", ", column(c), ": ", show(cell),
                 " is not a number");
    GROOVE_CHECK(parsed != Parsed::overflow, at(record_line_), ", ", column(c), ": ", show(cell),
                 " is out of the range of a double");
    GROOVE_CHECK(std::isfinite(v), at(record_line_), ", ", column(c), ": ", show(cell),
                 " (NaN and Inf are not allowed)");
    GROOVE_CHECK(options_.dtype != DType::f32 || std::fabs(v) <= static_cast<double>(FLT_MAX), at(record_line_), ", ",
                 column(c), ": ", show(cell), " overflows f32 (load with dtype f64)");
    values_.push_back(v);
  }
  const std::string label(trim((*record_)[label_col_]));
  GROOVE_CHECK(!label.empty(), at(record_line_), ", ", column(label_col_), ": empty label");
  labels_.push_back(label);
  if (group_col_ != kNone) {
    const std::string group(trim((*record_)[group_col_]));
    GROOVE_CHECK(!group.empty(), at(record_line_), ", ", column(group_col_), ": empty group");
    if (group != options_.train_group) {
      GROOVE_CHECK(group != "train", at(record_line_), ", ", column(group_col_), ": group 'train' is reserved for ",
                   "the training rows, which this file marks with ", show(options_.train_group));
    }
    groups_.push_back(group);
  }
  lines_.push_back(record_line_);
  GROOVE_CHECK(lines_.size() < static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()), what_,
               ": more than 2^31 - 2 rows");
}

Dataset CsvParser::run(std::string_view text) {
  GROOVE_CHECK(!text.empty(), what_, ": empty file (a header row and data rows are required)");
  csv::read_records(text, what_, [this](const std::vector<std::string>& fields, std::int64_t line) {
    record_ = &fields;
    record_line_ = line;
    record();
  });
  GROOVE_CHECK(have_header_, what_, ": missing header row (the file has only blank lines)");
  GROOVE_CHECK(!labels_.empty(), what_, ": no data rows after the header");
  return build();
}

Dataset CsvParser::build() {
  const auto n = static_cast<std::int64_t>(labels_.size());
  const auto cols = static_cast<std::int64_t>(feature_cols_.size());
  const std::string label_column = column(label_col_);
  Dataset ds;
  ds.task = "csv:" + what_;

  // Train rows and groups.
  std::vector<char> is_train(static_cast<std::size_t>(n), 1);
  Group train{"train", {}}, test{"test", {}};
  std::vector<Group> named;
  std::unordered_map<std::string, std::size_t> named_index;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto r = static_cast<std::size_t>(i);
    if (group_col_ == kNone || groups_[r] == options_.train_group) {
      train.indices.push_back(static_cast<std::int32_t>(i));
      continue;
    }
    is_train[r] = 0;
    test.indices.push_back(static_cast<std::int32_t>(i));
    if (groups_[r] == "test") continue;  // the "test" group already holds every non-train row
    const auto [it, added] = named_index.emplace(groups_[r], named.size());
    if (added) named.push_back({groups_[r], {}});
    named[it->second].indices.push_back(static_cast<std::int32_t>(i));
  }
  if (train.indices.empty()) {
    std::string seen;
    for (std::size_t i = 0; i < groups_.size() && seen.size() < 200; ++i) {
      if (seen.find(show(groups_[i])) == std::string::npos) seen += (seen.empty() ? "" : ", ") + show(groups_[i]);
    }
    GROOVE_THROW(what_, ": no training rows: no row has ", show(options_.train_group), " in ", column(group_col_),
                 " (values: ", seen, ")");
  }

  // Labels: all integers, or all names.
  std::size_t first_number = kNone, first_name = kNone;
  std::vector<double> numbers(static_cast<std::size_t>(n), 0.0);
  for (std::size_t r = 0; r < labels_.size(); ++r) {
    double v = 0;
    if (parse_number(labels_[r], &v) == Parsed::not_a_number) {
      if (first_name == kNone) first_name = r;
    } else {
      numbers[r] = v;
      if (first_number == kNone) first_number = r;
    }
  }
  if (first_number != kNone && first_name != kNone) {
    GROOVE_THROW(what_, ": ", label_column, " mixes numbers (line ", lines_[first_number], ": ",
                 show(labels_[first_number]), ") and names (line ", lines_[first_name], ": ", show(labels_[first_name]),
                 "); labels must be all integer class ids or all class names");
  }
  std::vector<std::int32_t> ids(static_cast<std::size_t>(n));
  std::vector<std::string> class_names;  // names mode only
  if (first_name == kNone) {
    for (std::size_t r = 0; r < labels_.size(); ++r) {
      const double v = numbers[r];
      GROOVE_CHECK(std::isfinite(v) && v == std::floor(v), at(lines_[r]), ", ", label_column, ": label ",
                   show(labels_[r]), " is not an integer class id");
      GROOVE_CHECK(v >= 0, at(lines_[r]), ", ", label_column, ": label ", show(labels_[r]),
                   " is negative (class ids must be >= 0)");
      GROOVE_CHECK(v < static_cast<double>(std::numeric_limits<std::int32_t>::max()), at(lines_[r]), ", ", label_column,
                   ": label ", show(labels_[r]), " is too large for a class id");
      ids[r] = static_cast<std::int32_t>(v);
    }
  } else {
    std::unordered_map<std::string, std::int32_t> id_of;
    for (std::size_t r = 0; r < labels_.size(); ++r) {
      const auto [it, added] = id_of.emplace(labels_[r], static_cast<std::int32_t>(class_names.size()));
      if (added) class_names.push_back(labels_[r]);
      ids[r] = it->second;
    }
  }

  // Every class needs a training row.
  std::int32_t max_id = 0;
  for (std::int32_t v : ids) max_id = std::max(max_id, v);
  std::vector<std::int32_t> train_ids;
  for (std::int32_t i : train.indices) train_ids.push_back(ids[static_cast<std::size_t>(i)]);
  std::sort(train_ids.begin(), train_ids.end());
  train_ids.erase(std::unique(train_ids.begin(), train_ids.end()), train_ids.end());
  std::int64_t missing = -1;
  for (std::size_t i = 0; i < train_ids.size() && missing < 0; ++i) {
    if (train_ids[i] != static_cast<std::int32_t>(i)) missing = static_cast<std::int64_t>(i);
  }
  if (missing < 0 && static_cast<std::int64_t>(train_ids.size()) <= max_id) {
    missing = static_cast<std::int64_t>(train_ids.size());
  }
  if (missing >= 0) {
    const std::string name = class_names.empty() ? "class " + std::to_string(missing)
                                                 : "class " + show(class_names[static_cast<std::size_t>(missing)]) +
                                                       " (id " + std::to_string(missing) + ")";
    const auto row = std::find(ids.begin(), ids.end(), static_cast<std::int32_t>(missing));
    if (row != ids.end()) {
      GROOVE_THROW(what_, ": ", name, " has no example in the training rows (it first appears on line ",
                   lines_[static_cast<std::size_t>(row - ids.begin())], ", in group ",
                   show(groups_[static_cast<std::size_t>(row - ids.begin())]),
                   "); every class needs a training example");
    }
    GROOVE_THROW(what_, ": ", name, " has no example in the training rows (the labels in ", label_column, " go up to ",
                 max_id, ", so the classes are 0..", max_id, "; every class needs a training example)");
  }

  ds.num_classes = static_cast<std::int64_t>(max_id) + 1;
  ds.y = Tensor::from_vector<std::int32_t>({n}, ids);
  ds.x = Tensor::host({n, cols}, options_.dtype);
  for (std::size_t i = 0; i < values_.size(); ++i) {
    if (options_.dtype == DType::f32) {
      ds.x.flat<float>(static_cast<std::int64_t>(i)) = static_cast<float>(values_[i]);
    } else {
      ds.x.flat<double>(static_cast<std::int64_t>(i)) = values_[i];
    }
  }
  for (std::size_t c = 0; c < class_names.size(); ++c) ds.info["class:" + class_names[c]] = static_cast<double>(c);
  ds.groups.push_back(std::move(train));
  if (!test.indices.empty()) ds.groups.push_back(std::move(test));
  for (Group& g : named) ds.groups.push_back(std::move(g));
  return ds;
}

}  // namespace

Dataset parse_csv_dataset(std::string_view text, const std::string& what, const CsvOptions& options) {
  GROOVE_CHECK(options.dtype == DType::f32 || options.dtype == DType::f64, what,
               ": features must be loaded as f32 or f64, not ", dtype_name(options.dtype));
  Dataset ds = CsvParser(what, options).run(text);
  ds.validate(what);
  return ds;
}

Dataset load_csv_dataset(const std::string& path, const CsvOptions& options) {
  struct stat st {};
  GROOVE_CHECK(::stat(path.c_str(), &st) == 0, path, ": cannot open the CSV file: ", std::strerror(errno));
  GROOVE_CHECK(S_ISREG(st.st_mode), path, ": not a regular file");
  std::ifstream in(path, std::ios::binary);
  GROOVE_CHECK(in.is_open(), path, ": cannot open the CSV file: ", std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  GROOVE_CHECK(!in.bad(), path, ": cannot read the CSV file");
  return parse_csv_dataset(text.str(), path, options);
}

}  // namespace groove::tasks
