// Test helper: MATLAB / NDT raster files written with libmatio (see mat_writer.h).
#include "tests/common/mat_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>

#include "runtime/error.h"

namespace groove::test {


Field strings(const std::string& name, std::vector<std::string> values) {
  return Field{name, std::move(values), {}};
}
Field numbers(const std::string& name, std::vector<double> values) {
  return Field{name, {}, std::move(values)};
}

matvar_t* char_var(const char* name, const std::string& s) {
  size_t dims[2] = {s.empty() ? 0u : 1u, s.size()};
  return Mat_VarCreate(name, MAT_C_CHAR, MAT_T_UINT8, 2, dims, s.empty() ? nullptr : const_cast<char*>(s.data()), 0);
}

matvar_t* field_var(const Field& f) {
  if (f.strings.empty() && !f.numbers.empty()) {
    size_t dims[2] = {1, f.numbers.size()};
    return Mat_VarCreate(f.name.c_str(), MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, const_cast<double*>(f.numbers.data()), 0);
  }
  size_t dims[2] = {1, f.strings.size()};
  matvar_t* cell = Mat_VarCreate(f.name.c_str(), MAT_C_CELL, MAT_T_CELL, 2, dims, nullptr, 0);
  for (std::size_t i = 0; i < f.strings.size(); ++i)
    Mat_VarSetCell(cell, static_cast<int>(i), char_var(nullptr, f.strings[i]));
  return cell;
}

matvar_t* labels_var(const std::vector<Field>& fields) {
  std::vector<const char*> names;
  for (const Field& f : fields) names.push_back(f.name.c_str());
  size_t dims[2] = {1, 1};
  matvar_t* st = Mat_VarCreateStruct("raster_labels", 2, dims, names.data(), static_cast<unsigned>(names.size()));
  for (const Field& f : fields) Mat_VarSetStructFieldByName(st, f.name.c_str(), 0, field_var(f));
  return st;
}

// raster_data from row-major values [trials][bins], stored column-major as MATLAB does.
matvar_t* raster_var(std::size_t trials, std::size_t bins, const std::vector<double>& values,
                     RasterClass cls) {
  size_t dims[2] = {trials, bins};
  std::vector<double> col(trials * bins);
  for (std::size_t t = 0; t < trials; ++t)
    for (std::size_t b = 0; b < bins; ++b) col[t + b * trials] = values[t * bins + b];
  switch (cls) {
    case RasterClass::f64:
      return Mat_VarCreate("raster_data", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, col.data(), 0);
    case RasterClass::f32: {
      std::vector<float> v(col.begin(), col.end());
      return Mat_VarCreate("raster_data", MAT_C_SINGLE, MAT_T_SINGLE, 2, dims, v.data(), 0);
    }
    case RasterClass::u8:
    case RasterClass::logical: {
      std::vector<std::uint8_t> v(col.size());
      for (std::size_t i = 0; i < col.size(); ++i) v[i] = static_cast<std::uint8_t>(col[i]);
      return Mat_VarCreate("raster_data", MAT_C_UINT8, MAT_T_UINT8, 2, dims, v.data(),
                           cls == RasterClass::logical ? MAT_F_LOGICAL : 0);
    }
    case RasterClass::i16: {
      std::vector<std::int16_t> v(col.size());
      for (std::size_t i = 0; i < col.size(); ++i) v[i] = static_cast<std::int16_t>(col[i]);
      return Mat_VarCreate("raster_data", MAT_C_INT16, MAT_T_INT16, 2, dims, v.data(), 0);
    }
    case RasterClass::sparse: {
      std::vector<mat_uint32_t> ir, jc{0};
      std::vector<double> data;
      for (std::size_t b = 0; b < bins; ++b) {
        for (std::size_t t = 0; t < trials; ++t) {
          if (col[t + b * trials] != 0) {
            ir.push_back(static_cast<mat_uint32_t>(t));
            data.push_back(col[t + b * trials]);
          }
        }
        jc.push_back(static_cast<mat_uint32_t>(ir.size()));
      }
      mat_sparse_t sp{};
      sp.nzmax = static_cast<mat_uint32_t>(data.size());
      sp.ir = ir.data();
      sp.nir = static_cast<mat_uint32_t>(ir.size());
      sp.jc = jc.data();
      sp.njc = static_cast<mat_uint32_t>(jc.size());
      sp.ndata = static_cast<mat_uint32_t>(data.size());
      sp.data = data.data();
      return Mat_VarCreate("raster_data", MAT_C_SPARSE, MAT_T_DOUBLE, 2, dims, &sp, 0);
    }
  }
  return nullptr;
}

// Writes the variables (and frees them).
void write_mat(const std::string& path, const std::vector<matvar_t*>& vars, mat_ft version) {
  mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, version);
  ASSERT_NE(mat, nullptr) << "cannot create " << path;
  for (matvar_t* v : vars) {
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(Mat_VarWrite(mat, v, MAT_COMPRESSION_NONE), 0) << path;
    Mat_VarFree(v);
  }
  Mat_Close(mat);
}

void write_ndt_study(const std::string& folder, const tasks::NeuralDataset& data, const NdtStudyLayout& layout) {
  const long lo = static_cast<long>(layout.onset_bin) + layout.window_start;
  const long hi = lo + static_cast<long>(layout.window_bins);
  GROOVE_CHECK(lo >= 0 && hi <= static_cast<long>(layout.bins) && layout.window_bins >= 1, "write_ndt_study: window [",
               lo, ", ", hi, ") outside ", layout.bins, " bins");
  const std::size_t outside = layout.bins - layout.window_bins;
  static const char* const kLabelText[] = {"nontarget", "target", "probe"};
  for (const tasks::NeuralSession& s : data.sessions) {
    const auto trials = static_cast<std::size_t>(s.responses.dim(0));
    const auto neurons = static_cast<std::size_t>(s.responses.dim(1));
    std::vector<std::string> mouse(trials, s.subject), label(trials);
    std::vector<double> day(trials, static_cast<double>(s.day)), odor(trials);
    for (std::size_t t = 0; t < trials; ++t) {
      label[t] = kLabelText[s.labels[t]];
      odor[t] = s.stimulus[t];
    }
    for (std::size_t n = 0; n < neurons; ++n) {
      std::vector<double> raster(trials * layout.bins, 0.0);
      for (std::size_t t = 0; t < trials; ++t) {
        const double count = s.responses.data<double>()[t * neurons + n];
        GROOVE_CHECK(count >= 0 && count == std::round(count), "write_ndt_study: ", s.key, " trial ", t, " neuron ", n,
                     ": ", count, " is not a spike count");
        for (long k = 0; k < static_cast<long>(count); ++k)
          raster[t * layout.bins + static_cast<std::size_t>(lo + k % static_cast<long>(layout.window_bins))] += 1;
        // Spikes outside the window, at bins that depend on the trial and the neuron.
        for (int k = 0; k < layout.noise_spikes && outside > 0; ++k) {
          std::size_t b = (t * 7 + n * 13 + static_cast<std::size_t>(k) * 29) % outside;
          if (static_cast<long>(b) >= lo) b += layout.window_bins;
          raster[t * layout.bins + b] += 1;
        }
      }
      const std::string id = s.neuron_ids.empty() ? "n" + std::to_string(n) : s.neuron_ids[n];
      char name[256];
      std::snprintf(name, sizeof name, "%s_day%02lld_n%03zu.mat", s.subject.c_str(), static_cast<long long>(s.day), n);
      write_mat(folder + "/" + name,
                {raster_var(trials, layout.bins, raster, layout.raster_class),
                 labels_var({strings("mouse_name", mouse), numbers("day_of_behavior", day),
                             strings("stimulus_category_with_probes", label), numbers("odor", odor),
                             strings("neuron", std::vector<std::string>(trials, id))})});
    }
  }
}

}  // namespace groove::test
