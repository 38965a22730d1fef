// What this x86-64 CPU can run, from cpuid and xgetbv (the OS must save the wider registers).
#pragma once

#include <string>
#include <string_view>

namespace tessel::x86 {

enum class IsaFamily { None, Avx2, Avx512 };

struct CpuFeatures {
  bool avx2 = false;   // AVX2 + FMA3, YMM state enabled by the OS
  bool avx512 = false; // AVX-512 F, DQ, BW, VL, ZMM state enabled by the OS
};

CpuFeatures detectCpuFeatures();
std::string_view familyName(IsaFamily f);

// The best family this CPU has, or the one TESSEL_X86_ISA names ("avx2", "avx512"); an
// override the CPU cannot run gives None and a reason in *why.
IsaFamily chooseFamily(const CpuFeatures& cpu, const char* override, std::string* why);

} // namespace tessel::x86
