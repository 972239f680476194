// The relu'(0) study's settings in double (one translation unit per precision: they compile in parallel).
#include "study.hpp"

template <> void study::run_precision<double>(const data &d, const settings &s, results &out) { run_all<double>(d, s, out); }
