// The relu'(0) study's settings in float (one translation unit per precision: they compile in parallel).
#include "study.hpp"

template <> void study::run_precision<float>(const data &d, const settings &s, results &out) { run_all<float>(d, s, out); }
