// Evaluation: LaMP-format data, synthetic users, metrics, experiment runner.
