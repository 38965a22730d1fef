#include "cpu_features.h"

#include <cpuid.h>
#include <cstdint>
#include <cstring>

namespace tessel::x86 {
namespace {

uint64_t xgetbv0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

} // namespace

CpuFeatures detectCpuFeatures() {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool fma = c & (1u << 12);
  const bool osxsave = c & (1u << 27);
  const bool avx = c & (1u << 28);
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = xgetbv0();
  const bool ymmState = (xcr0 & 0x6) == 0x6;
  const bool zmmState = (xcr0 & 0xe6) == 0xe6;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  const bool avx2 = b & (1u << 5);
  const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17);
  const bool avx512bw = b & (1u << 30), avx512vl = b & (1u << 31);
  f.avx2 = avx2 && fma && ymmState;
  f.avx512 = f.avx2 && avx512f && avx512dq && avx512bw && avx512vl && zmmState;
  return f;
}

std::string_view familyName(IsaFamily f) {
  switch (f) {
  case IsaFamily::Avx2: return "avx2";
  case IsaFamily::Avx512: return "avx512";
  case IsaFamily::None: break;
  }
  return "none";
}

IsaFamily chooseFamily(const CpuFeatures& cpu, const char* override, std::string* why) {
  if (override && *override) {
    if (std::strcmp(override, "avx2") == 0) {
      if (cpu.avx2) return IsaFamily::Avx2;
      *why = "TESSEL_X86_ISA=avx2, but this CPU lacks AVX2 and FMA";
      return IsaFamily::None;
    }
    if (std::strcmp(override, "avx512") == 0) {
      if (cpu.avx512) return IsaFamily::Avx512;
      *why = "TESSEL_X86_ISA=avx512, but this CPU lacks AVX-512 F/DQ/BW/VL";
      return IsaFamily::None;
    }
    *why = std::string("TESSEL_X86_ISA=") + override + " is not avx2 or avx512";
    return IsaFamily::None;
  }
  if (cpu.avx512) return IsaFamily::Avx512;
  if (cpu.avx2) return IsaFamily::Avx2;
  *why = "this CPU lacks AVX2 and FMA";
  return IsaFamily::None;
}

} // namespace tessel::x86
