#pragma once

#include "tessel/runtime/backend.h"

// The backend's sources are compiled with hidden visibility (its kernels are its own): only what
// this header declares is exported from the runtime.
#pragma GCC visibility push(default)
namespace tessel {
// x86-64 CPU kernels (AVX2+FMA, AVX-512), the family picked from cpuid at registration unless
// TESSEL_X86_ISA=avx2|avx512 forces one. Registers nothing on a CPU without AVX2 and FMA.
void registerCpuX86Backend(BackendRegistry& registry);
// The same with the family named ("avx2", "avx512"); false, registering nothing, when this CPU
// cannot run it. For tests that sweep every family the machine has.
bool registerCpuX86BackendFamily(BackendRegistry& registry, const char* family);
// The descriptor of cpu_x86 for a named target ("x86-64-avx2", "x86-64-avx512"), whatever this
// CPU is: for planning offline (`tessel convert --target`); it runs nothing. Null for another
// name.
std::unique_ptr<BackendDescriptor> cpuX86TargetDescriptor(std::string_view target);
// Convolution weights this process has packed so far: a constant packed the same way by another
// kernel still alive (another session's, another plan's of a dynamic session) is shared, not
// counted again.
int64_t cpuX86WeightPackings();
// The bytes of those packings (what BackendDescriptor::preparedBytes estimates).
int64_t cpuX86PackedBytes();
} // namespace tessel
#pragma GCC visibility pop
