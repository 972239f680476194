// The relu'(0) study's settings in kink::float16 (one translation unit per precision: they compile in parallel).
#include "study.hpp"

template <> void study::run_precision<kink::float16>(const data &d, const settings &s, results &out) { run_all<kink::float16>(d, s, out); }
