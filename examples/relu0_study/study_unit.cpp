// One part of the relu'(0) study for one precision. examples/meson.build compiles this file eight
// times, once per precision (KINK_STUDY_PRECISION: float16, bfloat16, float or double) and part
// (KINK_STUDY_PART: 1, the depth and width sweeps; 2, the option sweeps and the training runs), so
// that the study's programs compile in parallel, none of the eight units taking half a minute.
#include "study.hpp"

#if !defined(KINK_STUDY_PRECISION) || !defined(KINK_STUDY_PART)
#error "study_unit.cpp is compiled with -DKINK_STUDY_PRECISION=<type> -DKINK_STUDY_PART=<1 or 2> (see examples/meson.build)"
#endif

namespace study {
using unit_type = KINK_STUDY_PRECISION;
#if KINK_STUDY_PART == 1
template <> void run_sweeps<unit_type>(const data &d, const settings &s, results &out) { sweeps_part<unit_type>(d, s, out); }
#else
template <> void run_options<unit_type>(const data &d, const settings &s, results &out) { options_part<unit_type>(d, s, out); }
#endif
} // namespace study
