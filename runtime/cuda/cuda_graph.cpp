// StepGraph on CUDA: stream capture of a training step into a graph, then graph launches.
#include <cuda_runtime.h>

#include "runtime/cuda/cuda_check.h"
#include "runtime/cuda/cuda_state.h"
#include "runtime/tape.h"

namespace groove {

StepGraph::~StepGraph() {
  reset();
}

void StepGraph::reset() noexcept {
  if (exec_) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec_));
  if (graph_) cudaGraphDestroy(static_cast<cudaGraph_t>(graph_));
  exec_ = nullptr;
  graph_ = nullptr;
  steps_ = 0;
}

void StepGraph::begin_capture(Context& ctx) {
  GROOVE_CHECK(ctx.is_cuda(), "StepGraph: graph capture needs a CUDA context, got ", ctx.device().str(),
               " (on the CPU the tape replay is the plan)");
  reset();
  ctx_ = &ctx;
  cuda_set_device(ctx);
  // Thread-local mode: a forbidden call (allocation, synchronization) made by this thread during
  // the capture fails loudly instead of silently breaking the graph.
  GROOVE_CUDA_CHECK(cudaStreamBeginCapture(cuda_stream(ctx), cudaStreamCaptureModeThreadLocal));
}

void StepGraph::end_capture(int steps) {
  cudaGraph_t graph = nullptr;
  const cudaError_t status = cudaStreamEndCapture(cuda_stream(*ctx_), &graph);
  if (status != cudaSuccess) {
    cudaGetLastError();
    GROOVE_THROW("StepGraph: capturing the step failed (", cudaGetErrorString(status),
                 "): the step allocated memory or synchronized with the host; run it once eagerly first so "
                 "that every buffer exists");
  }
  graph_ = graph;
  cudaGraphExec_t exec = nullptr;
  GROOVE_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  exec_ = exec;
  steps_ = steps;
}

void StepGraph::abort_capture() noexcept {
  if (!ctx_) return;
  cudaGraph_t graph = nullptr;
  cudaStreamEndCapture(cuda_stream(*ctx_), &graph);
  if (graph) cudaGraphDestroy(graph);
  cudaGetLastError();
}

void StepGraph::launch() {
  GROOVE_CHECK(exec_ != nullptr, "StepGraph::launch: nothing captured");
  GROOVE_CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec_), cuda_stream(*ctx_)));
}

}  // namespace groove
