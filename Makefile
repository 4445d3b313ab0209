# Thin wrapper over CMake. The README's two commands:
#   make demo   install what is missing, build, run the main job (examples/mice_grok.yaml), print a summary
#               table and where its results and plots are
#   make test   install what is missing, configure, build everything (CUDA code included when nvcc
#               is present), run every test (GPU tests skip with a message when no GPU is present)
# Variables: BUILD (build folder), BUILD_TYPE, JOBS, WERROR (ON in CI), CMAKE_ARGS, OUT.

BUILD      ?= build
BUILD_TYPE ?= Release
JOBS       ?= $(shell nproc)
WERROR     ?= $(if $(CI),ON,OFF)
CMAKE_ARGS ?=
OUT        ?= out/demo

.PHONY: all deps configure build test test-gpu bench bench-micro compare demo install clean

all: build

deps:
	@tools/install-deps

configure: deps
	@if [ -f $(BUILD)/CMakeCache.txt ]; then gen=""; else gen="-G Ninja"; fi; \
	cmake -S . -B $(BUILD) $$gen -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DGROOVE_WERROR=$(WERROR) $(CMAKE_ARGS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	@$(BUILD)/tools/groove info | sed -n 's/^ *GPUs: *no GPU found: using the CPU backend (\(.*\))$$/note: the GPU tests (ctest label gpu) were skipped: \1/p'

# Only the GPU-labelled tests (CUDA kernels against their CPU twins).
test-gpu: build
	ctest --test-dir $(BUILD) --output-on-failure -L gpu

# End-to-end: the training step over PERF.md's grid (GPU when present, else CPU); tables under
# bench/results/. GRID=piriform|small|perf.
GRID ?= perf
bench: build
	$(BUILD)/tools/groove bench --grid $(GRID)

# Google Benchmark microbenchmarks (GEMM, fused loss / optimizer / statistics kernels, SVM, decoders).
bench-micro: build
	$(BUILD)/bench/groove_bench --benchmark_min_time=0.2

# groove against PyTorch and JAX (bench/peers/) on the same workload, alternating; updates the
# generated section of BENCHMARKS.md for this device.
compare: build
	@bench/peers/setup
	bench/compare --benchmarks BENCHMARKS.md

demo: build
	@mkdir -p $(OUT)
	@$(BUILD)/tools/groove info --out $(OUT)/info.json | sed -n '1p;/GPUs/,$$p'
	$(BUILD)/tools/groove sweep examples/mice_grok.yaml out=$(OUT)
	@echo
	$(BUILD)/tools/groove plot $(OUT)/mice_grok --table
	@echo
	@echo "demo results: $(OUT)/mice_grok (runs.csv; per run: metrics.csv, examples.npy, summary.json);"
	@echo "figures: $(OUT)/mice_grok/figures/ (listed above). What they show: docs/experiments.md"

install: build
	cmake --install $(BUILD) --prefix $(or $(PREFIX),/usr/local)

clean:
	rm -rf $(BUILD) out
