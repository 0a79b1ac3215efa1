"""`hokusai doctor`: the recommendations' "testing after each phase", automated."""
