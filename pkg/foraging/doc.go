// Package foraging owns the project's example grouped analysis: per mouse, the dynamic
// foraging sessions with fiber photometry (df_trials, df_events, df_fip tables) are read,
// preprocessed per channel, aligned to choice on a fixed grid and summarised into
// PSTHs, RPE response fits, baseline-by-history tables, CSV curves and PNG plots.
//
// The computations follow the project's reference description of the Python analysis
// (FORAGING_ANALYSIS.md). Run is the wrapper.AnalysisFunc that cmd/aind-foraging hands
// to wrapper.Main (via Analysis); the tables are found by FindTables under each asset
// location of the job, one folder per session. Test data and its generator
// (internal/gen) are described in testdata/foraging/README.md.
package foraging
