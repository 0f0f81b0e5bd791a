// Prints the closing line CI reads, "N passed, N failed, N skipped", as the very last
// line of the run (jest's own summary is written after the reporters run, so the line
// is printed when the process exits).
class SummaryLineReporter {
  onRunComplete(_contexts, results) {
    const passed = results.numPassedTests;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const skipped = results.numPendingTests + results.numTodoTests;
    process.once('exit', () => process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`));
  }
}
module.exports = SummaryLineReporter;
