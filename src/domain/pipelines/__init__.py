"""Run once and only once: definition keys, re-runs and the npg_porch-compatible tracker."""
