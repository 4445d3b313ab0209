// Neural Decoding Toolbox raster files (one MATLAB file per neuron) -> NeuralDataset, read with
// libmatio. Format and conventions: tasks/ndt.h.
#include <matio.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "runtime/error.h"
#include "tasks/ndt.h"
#include "tasks/neural.h"

namespace groove::tasks {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Small helpers

std::string lower_trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  std::string out = s.substr(b, e - b);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Number text: integers without a decimal point, others with 17 significant digits.
std::string number_text(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9.007199254740992e15) {
    return std::to_string(static_cast<long long>(v));
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

// The whole string as a finite number, if it is one.
bool parse_number(const std::string& s, double* out) {
  const std::string t = lower_trim(s);
  if (t.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  if (errno != 0 || end != t.c_str() + t.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

bool parse_integer(const std::string& s, std::int64_t* out) {
  double v = 0;
  if (!parse_number(s, &v) || v != std::floor(v) || std::fabs(v) >= 9.007199254740992e15) return false;
  *out = static_cast<std::int64_t>(v);
  return true;
}

// Orders values: numbers (numerically) before other strings (byte-wise); equal numbers by text.
bool value_less(const std::string& a, const std::string& b) {
  double x = 0, y = 0;
  const bool na = parse_number(a, &x), nb = parse_number(b, &y);
  if (na != nb) return na;
  if (na && x != y) return x < y;
  return a < b;
}

bool tuple_less(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (value_less(a[i], b[i])) return true;
    if (value_less(b[i], a[i])) return false;
  }
  return a.size() < b.size();
}

std::string quoted_list(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", '" : "'") + items[i] + "'";
  return out.empty() ? "none" : out;
}

const char* class_name(const matvar_t* v) {
  if (v->isLogical) return "logical";
  switch (v->class_type) {
    case MAT_C_EMPTY:
      return "empty";
    case MAT_C_CELL:
      return "cell";
    case MAT_C_STRUCT:
      return "struct";
    case MAT_C_OBJECT:
      return "object";
    case MAT_C_CHAR:
      return "char";
    case MAT_C_SPARSE:
      return "sparse";
    case MAT_C_DOUBLE:
      return "double";
    case MAT_C_SINGLE:
      return "single";
    case MAT_C_INT8:
      return "int8";
    case MAT_C_UINT8:
      return "uint8";
    case MAT_C_INT16:
      return "int16";
    case MAT_C_UINT16:
      return "uint16";
    case MAT_C_INT32:
      return "int32";
    case MAT_C_UINT32:
      return "uint32";
    case MAT_C_INT64:
      return "int64";
    case MAT_C_UINT64:
      return "uint64";
    case MAT_C_FUNCTION:
      return "function handle";
    case MAT_C_OPAQUE:
      return "opaque object";
  }
  return "unknown class";
}

bool is_numeric_class(const matvar_t* v) {
  switch (v->class_type) {
    case MAT_C_DOUBLE:
    case MAT_C_SINGLE:
    case MAT_C_INT8:
    case MAT_C_UINT8:
    case MAT_C_INT16:
    case MAT_C_UINT16:
    case MAT_C_INT32:
    case MAT_C_UINT32:
    case MAT_C_INT64:
    case MAT_C_UINT64:
      return true;
    default:
      return false;
  }
}

std::size_t numel(const matvar_t* v) {
  std::size_t n = 1;
  for (int i = 0; i < v->rank; ++i) n *= v->dims[i];
  return v->rank > 0 ? n : 0;
}

std::string dims_text(const matvar_t* v) {
  std::string out;
  for (int i = 0; i < v->rank; ++i) out += (i ? "x" : "") + std::to_string(v->dims[i]);
  return out.empty() ? "0x0" : out;
}

// Element i of numeric data of matio type `type`; false for a type that is not numeric.
bool element(const void* data, matio_types type, std::size_t i, double* out) {
  switch (type) {
    case MAT_T_DOUBLE:
      *out = static_cast<const double*>(data)[i];
      return true;
    case MAT_T_SINGLE:
      *out = static_cast<const float*>(data)[i];
      return true;
    case MAT_T_INT8:
      *out = static_cast<const std::int8_t*>(data)[i];
      return true;
    case MAT_T_UINT8:
      *out = static_cast<const std::uint8_t*>(data)[i];
      return true;
    case MAT_T_INT16:
      *out = static_cast<const std::int16_t*>(data)[i];
      return true;
    case MAT_T_UINT16:
      *out = static_cast<const std::uint16_t*>(data)[i];
      return true;
    case MAT_T_INT32:
      *out = static_cast<const std::int32_t*>(data)[i];
      return true;
    case MAT_T_UINT32:
      *out = static_cast<const std::uint32_t*>(data)[i];
      return true;
    case MAT_T_INT64:
      *out = static_cast<double>(static_cast<const std::int64_t*>(data)[i]);
      return true;
    case MAT_T_UINT64:
      *out = static_cast<double>(static_cast<const std::uint64_t*>(data)[i]);
      return true;
    default:
      return false;
  }
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string trim_right(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

// ---------------------------------------------------------------------------------------------
// One MATLAB file

class MatFile {
 public:
  MatFile(const std::string& path, const std::string& name) : name_(name) {
    mat_ = Mat_Open(path.c_str(), MAT_ACC_RDONLY);
    GROOVE_CHECK(mat_ != nullptr, "NDT raster ", name_,
                 ": cannot open as a MATLAB file (not a MAT file, corrupt, or unreadable)");
  }
  ~MatFile() {
    for (matvar_t* v : vars_) Mat_VarFree(v);
    Mat_Close(mat_);
  }
  MatFile(const MatFile&) = delete;
  MatFile& operator=(const MatFile&) = delete;

  // The variable, read in full (owned by this object).
  matvar_t* read(const char* var) {
    matvar_t* v = Mat_VarRead(mat_, var);
    if (v == nullptr) {
      std::vector<std::string> names;
      size_t n = 0;
      char** dir = Mat_GetDir(mat_, &n);
      bool present = false;
      for (size_t i = 0; dir && i < n; ++i) {
        if (dir[i] == nullptr) continue;
        names.emplace_back(dir[i]);
        present = present || names.back() == var;
      }
      GROOVE_CHECK(present, "NDT raster ", name_, ": no variable '", var, "' (variables: ", quoted_list(names), ")");
      GROOVE_THROW("NDT raster ", name_, ": variable '", var, "' cannot be read (corrupt or unsupported)");
    }
    vars_.push_back(v);
    return v;
  }

 private:
  std::string name_;
  mat_t* mat_ = nullptr;
  std::vector<matvar_t*> vars_;
};

// ---------------------------------------------------------------------------------------------
// Per-trial label values

// A char array's rows as strings (trailing blanks and NULs trimmed).
std::vector<std::string> char_rows(const matvar_t* v, const std::string& what) {
  GROOVE_CHECK(v->rank <= 2, what, " is a ", dims_text(v), " char array (need a string or one row per trial)");
  const std::size_t count = numel(v);
  if (count == 0) return {std::string()};
  const std::size_t rows = v->dims[0], cols = v->dims[1];
  GROOVE_CHECK(v->data != nullptr, what, ": char data missing");
  std::vector<std::string> out(rows);
  if (v->data_type == MAT_T_UINT8 || v->data_type == MAT_T_INT8 || v->data_type == MAT_T_UTF8) {
    const char* p = static_cast<const char*>(v->data);
    if (rows == 1) {
      out[0] = std::string(p, v->nbytes > 0 ? v->nbytes : cols);
    } else {
      GROOVE_CHECK(v->nbytes == 0 || v->nbytes == count, what,
                   " is a multi-row char array with multi-byte characters (use a cell array of strings)");
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c) out[r].push_back(p[r + c * rows]);
    }
  } else if (v->data_type == MAT_T_UINT16 || v->data_type == MAT_T_INT16 || v->data_type == MAT_T_UTF16) {
    const std::uint16_t* p = static_cast<const std::uint16_t*>(v->data);
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t c = 0; c < cols; ++c) {
        std::uint32_t cp = p[r + c * rows];
        if (cp >= 0xD800 && cp < 0xDC00 && c + 1 < cols) {  // surrogate pair
          const std::uint32_t lo = p[r + (c + 1) * rows];
          if (lo >= 0xDC00 && lo < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            ++c;
          }
        }
        append_utf8(out[r], cp);
      }
    }
  } else {
    GROOVE_THROW(what, " is a char array with unsupported character data (matio type ", v->data_type, ")");
  }
  for (std::string& s : out) s = trim_right(std::move(s));
  return out;
}

// A single value (one trial): a string or a numeric / logical scalar.
std::string scalar_value(const matvar_t* v, const std::string& what) {
  if (v->class_type == MAT_C_CHAR) {
    const std::vector<std::string> rows = char_rows(v, what);
    GROOVE_CHECK(rows.size() == 1, what, " is a ", dims_text(v), " char array (need one string)");
    return rows[0];
  }
  if (is_numeric_class(v) && !v->isComplex && numel(v) == 1) {
    double x = 0;
    GROOVE_CHECK(v->data != nullptr && element(v->data, v->data_type, 0, &x), what, ": unreadable ", class_name(v),
                 " value");
    return number_text(x);
  }
  if (v->class_type == MAT_C_CELL && numel(v) == 1) {
    const matvar_t* inner = Mat_VarGetCell(const_cast<matvar_t*>(v), 0);
    GROOVE_CHECK(inner != nullptr, what, ": empty cell");
    return scalar_value(inner, what);
  }
  GROOVE_THROW(what, " is a ", dims_text(v), " ", class_name(v), " (need a string or a numeric scalar)");
}

// The values of a field holding one value per trial.
std::vector<std::string> per_trial_values(const matvar_t* v, const std::string& what) {
  if (v->class_type == MAT_C_CELL) {
    std::vector<std::string> out;
    const std::size_t n = numel(v);
    for (std::size_t i = 0; i < n; ++i) {
      const matvar_t* cell = Mat_VarGetCell(const_cast<matvar_t*>(v), static_cast<int>(i));
      const std::string cell_what = what + "{" + std::to_string(i + 1) + "}";
      GROOVE_CHECK(cell != nullptr, cell_what, " is missing");
      out.push_back(scalar_value(cell, cell_what));
    }
    return out;
  }
  if (v->class_type == MAT_C_CHAR) return char_rows(v, what);
  if (is_numeric_class(v)) {
    GROOVE_CHECK(!v->isComplex, what, " is complex (need real values)");
    GROOVE_CHECK(v->rank == 2 && (v->dims[0] <= 1 || v->dims[1] <= 1), what, " is a ", dims_text(v), " ", class_name(v),
                 " array (need a vector with one value per trial)");
    const std::size_t n = numel(v);
    std::vector<std::string> out(n);
    for (std::size_t i = 0; i < n; ++i) {
      double x = 0;
      GROOVE_CHECK(v->data != nullptr && element(v->data, v->data_type, i, &x), what, ": unreadable ", class_name(v),
                   " data");
      out[i] = number_text(x);
    }
    return out;
  }
  GROOVE_THROW(what, " is a ", dims_text(v), " ", class_name(v),
               " (need a cell array of strings, a numeric vector or a char matrix with one value per trial)");
}

// Field `field` of raster_labels for every trial.
std::vector<std::string> label_field(matvar_t* labels, const std::string& field, std::size_t trials,
                                     const std::string& file) {
  const std::string what = "NDT raster " + file + ": raster_labels." + field;
  const unsigned nfields = Mat_VarGetNumberOfFields(labels);
  char* const* names = Mat_VarGetStructFieldnames(labels);
  std::vector<std::string> present;
  for (unsigned i = 0; names && i < nfields; ++i) present.emplace_back(names[i] ? names[i] : "");
  GROOVE_CHECK(std::find(present.begin(), present.end(), field) != present.end(), "NDT raster ", file,
               ": raster_labels has no field '", field, "' (fields: ", quoted_list(present), ")");
  const std::size_t elements = numel(labels);
  std::vector<std::string> values;
  if (elements == 1) {
    const matvar_t* v = Mat_VarGetStructFieldByName(labels, field.c_str(), 0);
    GROOVE_CHECK(v != nullptr, what, " is empty");
    values = per_trial_values(v, what);
  } else {
    GROOVE_CHECK(elements == trials, "NDT raster ", file, ": raster_labels is a ", dims_text(labels),
                 " struct array (need 1x1, or one element per trial: ", trials, ")");
    for (std::size_t t = 0; t < trials; ++t) {
      const std::string el = "NDT raster " + file + ": raster_labels(" + std::to_string(t + 1) + ")." + field;
      const matvar_t* v = Mat_VarGetStructFieldByName(labels, field.c_str(), t);
      GROOVE_CHECK(v != nullptr, el, " is empty");
      values.push_back(scalar_value(v, el));
    }
  }
  GROOVE_CHECK(values.size() == trials, what, " has ", values.size(), " values for the ", trials,
               " trials of raster_data");
  return values;
}

// ---------------------------------------------------------------------------------------------
// Spike counts

// Sum of raster_data over bins [lo, hi) for every trial.
std::vector<double> window_counts(const matvar_t* raster, std::int64_t lo, std::int64_t hi, const std::string& file) {
  const std::size_t trials = raster->dims[0];
  std::vector<double> counts(trials, 0.0);
  const auto check_finite = [&](double x, std::size_t t, std::int64_t b) {
    GROOVE_CHECK(std::isfinite(x), "NDT raster ", file, ": raster_data has ", x, " at trial ", t, ", bin ", b,
                 " (0-based), inside the count window");
  };
  if (raster->class_type == MAT_C_SPARSE) {
    const auto* sp = static_cast<const mat_sparse_t*>(raster->data);
    GROOVE_CHECK(sp != nullptr && sp->jc != nullptr, "NDT raster ", file, ": sparse raster_data has no data");
    GROOVE_CHECK(sp->njc == raster->dims[1] + 1, "NDT raster ", file, ": malformed sparse raster_data (", sp->njc,
                 " column pointers for ", raster->dims[1], " bins)");
    for (std::int64_t b = lo; b < hi; ++b) {
      const std::size_t k0 = sp->jc[b], k1 = sp->jc[b + 1];
      GROOVE_CHECK(k0 <= k1 && k1 <= sp->ndata && k1 <= sp->nir, "NDT raster ", file,
                   ": malformed sparse raster_data (column ", b, ")");
      for (std::size_t k = k0; k < k1; ++k) {
        const std::size_t t = sp->ir[k];
        GROOVE_CHECK(t < trials, "NDT raster ", file, ": malformed sparse raster_data (row ", t, ")");
        double x = 0;
        GROOVE_CHECK(element(sp->data, raster->data_type, k, &x), "NDT raster ", file,
                     ": unsupported sparse raster_data type");
        check_finite(x, t, b);
        counts[t] += x;
      }
    }
    return counts;
  }
  GROOVE_CHECK(raster->data != nullptr, "NDT raster ", file, ": raster_data has no data");
  for (std::size_t t = 0; t < trials; ++t) {
    double sum = 0;
    for (std::int64_t b = lo; b < hi; ++b) {
      double x = 0;
      GROOVE_CHECK(element(raster->data, raster->data_type, t + static_cast<std::size_t>(b) * trials, &x),
                   "NDT raster ", file, ": unsupported raster_data type (matio type ", raster->data_type, ")");
      check_finite(x, t, b);
      sum += x;
    }
    counts[t] = sum;
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------

struct Neuron {
  std::string file;
  std::string id;                    // file name, or the value of neuron_field
  std::vector<std::string> session;  // values of the session fields
  std::vector<std::int32_t> labels;
  std::vector<std::string> stimulus;  // empty without stimulus_field
  std::vector<double> counts;
};

void check_options(const NdtOptions& o, const std::map<std::string, int>& labels) {
  GROOVE_CHECK(o.onset_bin >= 0, "NDT options: onset_bin = ", o.onset_bin, " (need >= 0, a 0-based bin index)");
  GROOVE_CHECK(o.window_bins >= 1, "NDT options: window_bins = ", o.window_bins, " (need >= 1)");
  GROOVE_CHECK(o.onset_bin + o.window_start >= 0, "NDT options: the count window starts at bin ",
               o.onset_bin + o.window_start, " (onset_bin ", o.onset_bin, " + window_start ", o.window_start,
               "), before bin 0");
  GROOVE_CHECK(!o.session_fields.empty(), "NDT options: session_fields is empty (need at least the subject field)");
  for (const std::string& f : o.session_fields) GROOVE_CHECK(!f.empty(), "NDT options: empty name in session_fields");
  GROOVE_CHECK(!o.label_field.empty(), "NDT options: label_field is empty");
  GROOVE_CHECK(!labels.empty(), "NDT options: label_values is empty");
}

Neuron read_neuron(const fs::path& path, const NdtOptions& o, const std::map<std::string, int>& label_map) {
  Neuron neuron;
  neuron.file = path.filename().string();
  const std::string& file = neuron.file;
  MatFile mat(path.string(), file);

  const matvar_t* raster = mat.read("raster_data");
  GROOVE_CHECK(is_numeric_class(raster) || raster->class_type == MAT_C_SPARSE, "NDT raster ", file,
               ": raster_data is a ", class_name(raster), " array (need a numeric or logical matrix trials x bins)");
  GROOVE_CHECK(!raster->isComplex, "NDT raster ", file, ": raster_data is complex (need real values)");
  GROOVE_CHECK(raster->rank == 2, "NDT raster ", file, ": raster_data is ", dims_text(raster),
               " (need a 2-D matrix trials x bins)");
  const std::size_t trials = raster->dims[0];
  const auto bins = static_cast<std::int64_t>(raster->dims[1]);
  GROOVE_CHECK(trials >= 1 && bins >= 1, "NDT raster ", file, ": raster_data is ", dims_text(raster),
               " (no trials or no bins)");
  const std::int64_t lo = o.onset_bin + o.window_start, hi = lo + o.window_bins;
  GROOVE_CHECK(hi <= bins, "NDT raster ", file, ": the count window, bins [", lo, ", ", hi, ") (onset_bin ",
               o.onset_bin, " + window_start ", o.window_start, ", window_bins ", o.window_bins,
               "; 0-based), lies outside raster_data's ", bins, " bins [0, ", bins, ")");
  neuron.counts = window_counts(raster, lo, hi, file);

  matvar_t* labels = mat.read("raster_labels");
  GROOVE_CHECK(labels->class_type == MAT_C_STRUCT, "NDT raster ", file, ": raster_labels is a ", class_name(labels),
               " (need a struct of per-trial fields)");

  for (const std::string& field : o.session_fields) {
    const std::vector<std::string> values = label_field(labels, field, trials, file);
    for (std::size_t t = 1; t < trials; ++t) {
      GROOVE_CHECK(values[t] == values[0], "NDT raster ", file, ": session field '", field, "' varies across trials ('",
                   values[0], "' on trial 0, '", values[t], "' on trial ", t,
                   "); all trials of a neuron must belong to one session");
    }
    neuron.session.push_back(values[0]);
  }

  const std::vector<std::string> label_text = label_field(labels, o.label_field, trials, file);
  for (std::size_t t = 0; t < trials; ++t) {
    const auto it = label_map.find(lower_trim(label_text[t]));
    if (it == label_map.end()) {
      std::vector<std::string> allowed;
      for (const auto& [k, v] : o.label_values) allowed.push_back(k);
      GROOVE_THROW("NDT raster ", file, ": trial ", t, ": ", o.label_field, " = '", label_text[t],
                   "' is not one of the label_values (", quoted_list(allowed), "; case-insensitive)");
    }
    neuron.labels.push_back(it->second);
  }
  if (!o.stimulus_field.empty()) neuron.stimulus = label_field(labels, o.stimulus_field, trials, file);
  neuron.id = file;
  if (!o.neuron_field.empty()) {
    const std::vector<std::string> ids = label_field(labels, o.neuron_field, trials, file);
    for (std::size_t t = 1; t < trials; ++t) {
      GROOVE_CHECK(ids[t] == ids[0], "NDT raster ", file, ": neuron field '", o.neuron_field, "' varies across trials ('",
                   ids[0], "' on trial 0, '", ids[t], "' on trial ", t, "); it names the neuron of the file");
    }
    GROOVE_CHECK(!ids[0].empty(), "NDT raster ", file, ": neuron field '", o.neuron_field, "' is empty");
    neuron.id = ids[0];
  }
  return neuron;
}

}  // namespace

NeuralDataset load_ndt_rasters(const std::string& folder, const NdtOptions& options, NdtInfo* info) {
  std::map<std::string, int> label_map;
  for (const auto& [key, value] : options.label_values) {
    GROOVE_CHECK(value >= 0 && value <= 2, "NDT options: label_values['", key, "'] = ", value,
                 " (need 0 nontarget, 1 target or 2 probe)");
    const std::string k = lower_trim(key);
    GROOVE_CHECK(!k.empty(), "NDT options: empty key in label_values");
    const auto [it, inserted] = label_map.emplace(k, value);
    GROOVE_CHECK(inserted || it->second == value, "NDT options: label_values maps '", key,
                 "' to two different labels (keys are case-insensitive)");
  }
  check_options(options, label_map);

  std::error_code ec;
  GROOVE_CHECK(fs::exists(folder, ec), "NDT rasters: folder '", folder, "' does not exist");
  GROOVE_CHECK(fs::is_directory(folder, ec), "NDT rasters: '", folder, "' is not a folder");
  std::vector<fs::path> paths;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (lower_trim(p.extension().string()) == ".mat" && fs::is_regular_file(p, ec)) paths.push_back(p);
  }
  GROOVE_CHECK(!ec, "NDT rasters: cannot list folder '", folder, "': ", ec.message());
  GROOVE_CHECK(!paths.empty(), "NDT rasters: folder '", folder, "' has no .mat files");
  std::sort(paths.begin(), paths.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename().string() < b.filename().string(); });

  std::vector<Neuron> neurons;
  neurons.reserve(paths.size());
  for (const fs::path& p : paths) neurons.push_back(read_neuron(p, options, label_map));

  // Group neurons into sessions (sorted by session values; files stay in name order within).
  std::vector<std::size_t> order(neurons.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return tuple_less(neurons[a].session, neurons[b].session); });

  // Stimulus ids: distinct values across the dataset, sorted like session values.
  std::vector<std::string> stimulus_names;
  if (!options.stimulus_field.empty()) {
    std::set<std::string> distinct;
    for (const Neuron& n : neurons) distinct.insert(n.stimulus.begin(), n.stimulus.end());
    stimulus_names.assign(distinct.begin(), distinct.end());
    std::sort(stimulus_names.begin(), stimulus_names.end(), value_less);
  }
  std::map<std::string, std::int32_t> stimulus_id;
  for (std::size_t i = 0; i < stimulus_names.size(); ++i) stimulus_id[stimulus_names[i]] = static_cast<std::int32_t>(i);

  NeuralDataset out;
  out.source = folder;
  std::map<std::string, std::int64_t> sessions_per_subject;
  for (std::size_t begin = 0; begin < order.size();) {
    std::size_t end = begin + 1;
    while (end < order.size() && neurons[order[end]].session == neurons[order[begin]].session) ++end;
    const Neuron& first = neurons[order[begin]];
    const std::vector<std::string>& values = first.session;

    NeuralSession s;
    s.subject = values[0];
    const std::int64_t rank = ++sessions_per_subject[s.subject];
    std::int64_t day = 0;
    const bool integer_day = values.size() >= 2 && parse_integer(values[1], &day);
    s.day = integer_day ? day : rank;
    if (values.size() == 2 && integer_day) {
      s.key = s.subject + "/day" + std::to_string(day);
    } else {
      for (std::size_t i = 0; i < values.size(); ++i) s.key += (i ? "/" : "") + values[i];
    }
    const std::size_t trials = first.counts.size();
    const auto n_neurons = static_cast<std::int64_t>(end - begin);
    s.labels = first.labels;
    s.stimulus.assign(trials, -1);
    for (std::size_t t = 0; t < trials && !first.stimulus.empty(); ++t) s.stimulus[t] = stimulus_id[first.stimulus[t]];
    s.responses = Tensor::host(Shape{static_cast<std::int64_t>(trials), n_neurons}, DType::f64);
    double* r = s.responses.data<double>();
    for (std::size_t j = begin; j < end; ++j) {
      const Neuron& n = neurons[order[j]];
      GROOVE_CHECK(n.counts.size() == trials, "NDT raster ", n.file, ": ", n.counts.size(), " trials, but ", first.file,
                   " of the same session ", s.key, " has ", trials,
                   "; the neurons of a session must share their trials (pseudo-simultaneous recording)");
      for (std::size_t t = 0; t < trials; ++t) {
        GROOVE_CHECK(n.labels[t] == first.labels[t], "NDT raster ", n.file, ": trial ", t, " has label ", n.labels[t],
                     " but trial ", t, " of ", first.file, " (same session ", s.key, ") has label ", first.labels[t],
                     "; the neurons of a session must share their trials in the same order");
        GROOVE_CHECK(first.stimulus.empty() || n.stimulus[t] == first.stimulus[t], "NDT raster ", n.file, ": trial ", t,
                     " has ", options.stimulus_field, " '", n.stimulus[t], "' but trial ", t, " of ", first.file,
                     " (same session ", s.key, ") has '", first.stimulus[t],
                     "'; the neurons of a session must share their trials in the same order");
        r[t * static_cast<std::size_t>(n_neurons) + (j - begin)] = n.counts[t];
      }
      for (std::size_t k = begin; k < j; ++k) {
        GROOVE_CHECK(neurons[order[k]].id != n.id, "NDT raster ", n.file, ": neuron field '", options.neuron_field,
                     "' = '", n.id, "' names ", neurons[order[k]].file, " of the same session ", s.key,
                     " too; neuron names must be unique within a session");
      }
      s.neuron_ids.push_back(n.id);
    }
    out.sessions.push_back(std::move(s));
    begin = end;
  }
  out.validate("NDT rasters in '" + folder + "'");

  if (info) {
    info->files.clear();
    for (const fs::path& p : paths) info->files.push_back(p.filename().string());
    info->stimulus_names = stimulus_names;
  }
  return out;
}

}  // namespace groove::tasks
