// Neural Decoding Toolbox (NDT) raster files -> NeuralDataset.
//
// Expected layout: a folder with one MATLAB file (*.mat; v4/v5/v7 and, with HDF5, v7.3 files, as
// libmatio reads them) per neuron, each holding
//   raster_data    numeric or logical matrix, trials x 1-ms bins (dense or sparse; double,
//                  single, any integer class; real)
//   raster_labels  a 1x1 struct whose fields hold one value per trial: a cell array of strings
//                  (or numeric scalars), a numeric / logical vector, or a char matrix with one
//                  row per trial (trailing blanks trimmed). A struct array with one element per
//                  trial (raster_labels(t).field) is accepted too.
// The spike count of a trial is the sum of raster_data over the bins
//   [onset_bin + window_start, onset_bin + window_start + window_bins)   (0-based bin indices).
//
// Sessions: a neuron belongs to the session named by the values of its session_fields (the same
// on all its trials). The first session field is the subject; the second, when present and
// integer-valued (numeric, or a string such as "3"), is the day, otherwise day is the 1-based rank
// of the session within its subject. Keys are "<subject>/day<day>" when session_fields has two
// fields and the day is an integer, else the field values joined with "/". Sessions are sorted by
// their field values (numbers numerically, before strings; strings byte-wise), neurons within a
// session by file name; neuron_ids are the file names, or the values of neuron_field when set
// (for neurons tracked across sessions, so that decoders can be tested across days). All neurons of a session must have the
// same trials (count, labels and stimuli, in the same order): the NDT's pseudo-simultaneous
// population assumption.
//
// Every problem is a groove::Error naming the file and what is wrong (see docs/data.md).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tasks/neural.h"

namespace groove::tasks {

struct NdtOptions {
  // 0-based (C) index of the first bin at or after odor onset: the window starts there. With
  // 1-ms bins where 0-based bin b covers [b, b+1) ms, "onset at 5000 ms" is bin 5000, which is
  // MATLAB's 1-based bin 5001 (the NDT's raster_site_info.alignment_event_time = 5001). If a
  // dataset gives the onset as a 1-based MATLAB bin k, set onset_bin = k - 1.
  std::int64_t onset_bin = 5000;
  std::int64_t window_start = 0;   // first bin of the count window, relative to onset (may be < 0)
  std::int64_t window_bins = 500;  // length of the count window, >= 1
  // raster_labels fields naming the session: subject first, then day (then any others).
  std::vector<std::string> session_fields = {"mouse_name", "day_of_behavior"};
  std::string label_field = "stimulus_category_with_probes";
  // Label value -> TrialLabel (0 nontarget, 1 target, 2 probe); keys match case-insensitively,
  // ignoring leading/trailing blanks. Numeric label values are matched as their decimal text
  // ("1", "2.5").
  std::map<std::string, int> label_values = {{"target", 1}, {"nontarget", 0}, {"non-target", 0}, {"probe", 2}};
  // Field with the odor identity per trial; empty: stimulus = -1 for every trial.
  std::string stimulus_field;
  // Field naming the neuron (the same on all its trials, unique within a session); empty: the
  // neuron is named by its file name.
  std::string neuron_field;
};

// What the loader found besides the dataset.
struct NdtInfo {
  std::vector<std::string> files;           // the .mat files read, sorted by name
  std::vector<std::string> stimulus_names;  // stimulus id -> value of stimulus_field (sorted
                                            // like session values); empty without stimulus_field
};

// Reads every *.mat file of `folder` (sorted by name). Throws groove::Error naming the folder or
// file on any problem.
NeuralDataset load_ndt_rasters(const std::string& folder, const NdtOptions& options = {}, NdtInfo* info = nullptr);

}  // namespace groove::tasks
