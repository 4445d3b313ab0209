// Test helper: writes MATLAB files with libmatio, in particular Neural Decoding Toolbox (NDT)
// raster files (raster_data + raster_labels, one file per neuron), so that loader and pipeline
// tests need no MATLAB. Linked by tests that read .mat files (library groove_test_mat).
#pragma once
#include <matio.h>

#include <cstddef>
#include <string>
#include <vector>

#include "tasks/neural.h"

namespace groove::test {

// A per-trial raster_labels field: strings (a cell array of char row vectors) or numbers (a
// double row vector).
struct Field {
  std::string name;
  std::vector<std::string> strings;
  std::vector<double> numbers;
};
Field strings(const std::string& name, std::vector<std::string> values);
Field numbers(const std::string& name, std::vector<double> values);

// A char row vector (name may be null for cell elements).
matvar_t* char_var(const char* name, const std::string& s);
// One field as a MATLAB value (cell array of strings or double row vector).
matvar_t* field_var(const Field& f);
// raster_labels: a 1x1 struct with one field per Field.
matvar_t* labels_var(const std::vector<Field>& fields);

enum class RasterClass { f64, f32, u8, logical, i16, sparse };

// raster_data from row-major values [trials][bins], stored column-major as MATLAB does.
matvar_t* raster_var(std::size_t trials, std::size_t bins, const std::vector<double>& values,
                     RasterClass cls = RasterClass::f64);

// Writes the variables to `path` (and frees them); fails the current test on an error.
void write_mat(const std::string& path, const std::vector<matvar_t*>& vars, mat_ft version = MAT_FT_MAT5);

// Where write_ndt_study puts each trial's count: 1-ms bins, counts spread one spike per bin
// (cyclically) over [onset_bin + window_start, + window_bins); `noise_spikes` more spikes per trial
// fall outside the window (the loader must ignore them).
struct NdtStudyLayout {
  std::size_t bins = 120;
  std::size_t onset_bin = 40;
  long window_start = 5;
  std::size_t window_bins = 50;
  int noise_spikes = 3;
  RasterClass raster_class = RasterClass::u8;
};

// Writes `data` as an NDT raster folder: one file per (session, neuron), named
// "<subject>_day<DD>_n<NNN>.mat" (zero-padded so that name order is neuron order), with
// raster_labels fields mouse_name (string), day_of_behavior (number),
// stimulus_category_with_probes ("target" / "nontarget" / "probe"), odor (the stimulus id, a
// number) and neuron (the neuron id, a string). Counts must be non-negative integers.
void write_ndt_study(const std::string& folder, const tasks::NeuralDataset& data, const NdtStudyLayout& layout = {});

}  // namespace groove::test
