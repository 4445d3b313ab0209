// libFuzzer target: the CSV dataset loader on the bytes (in memory, parse_csv_dataset), with three
// option sets: label column only; label and group columns; named feature columns as f64.
// groove::Error is the expected outcome for malformed input; anything else (a crash, a sanitizer
// report, another exception) is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/error.h"
#include "tasks/loaders.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const groove::tasks::CsvOptions kOptions[] = {
      {"label", {}, "", "train", groove::DType::f32},
      {"label", {}, "split", "train", groove::DType::f32},
      {"label", {"a", "b"}, "split", "fit", groove::DType::f64},
  };
  for (const auto& options : kOptions) {
    try {
      const groove::tasks::Dataset ds = groove::tasks::parse_csv_dataset(text, "fuzz.csv", options);
      (void)ds.size();
    } catch (const groove::Error&) {
    }
  }
  return 0;
}
