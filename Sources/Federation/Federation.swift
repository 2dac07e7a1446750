// Federation: wire types, secure aggregation, DP (issue 6), in progress.
