// The relu'(0) study's settings in kink::bfloat16 (one translation unit per precision: they compile in parallel).
#include "study.hpp"

template <> void study::run_precision<kink::bfloat16>(const data &d, const settings &s, results &out) { run_all<kink::bfloat16>(d, s, out); }
