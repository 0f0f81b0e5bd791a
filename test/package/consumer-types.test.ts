// Item 3 of issue 9: shears' published declarations compile for a consumer with
// moduleResolution nodenext and skipLibCheck false (no TS2834 coming through
// @huggingface/tokenizers' types), and the demo's default output folder is ignored by git.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';

const root = path.resolve(__dirname, '..', '..');
const declarations = path.join(root, 'dist', 'lib', 'index.d.ts');
const hasDist = fs.existsSync(declarations);
if (!hasDist) console.warn(`skipping the consumer type check: ${declarations} is not built (npm run build:ts)`);

/** Every .d.ts under dir. */
function declarationFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.d.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

(hasDist ? describe : describe.skip)('dist declarations for a consumer', () => {
  test('no declaration imports @huggingface/tokenizers', () => {
    const importsIt = /(?:from|import\(|require\()\s*['"]@huggingface\/tokenizers['"]/;
    const importing = declarationFiles(path.join(root, 'dist', 'lib')).filter((f) => importsIt.test(fs.readFileSync(f, 'utf8')));
    expect(importing.map((f) => path.relative(root, f))).toEqual([]);
  });

  test("import * from 'shears' type-checks under nodenext with skipLibCheck false", () => {
    const app = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-consumer-'));
    try {
      fs.mkdirSync(path.join(app, 'node_modules'));
      fs.symlinkSync(root, path.join(app, 'node_modules', 'shears'), 'dir');
      const entry = path.join(app, 'index.ts');
      fs.writeFileSync(entry, "import * as shears from 'shears';\nexport const load: typeof shears.loadTokenizer = shears.loadTokenizer;\n");
      const program = ts.createProgram([entry], {
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        target: ts.ScriptTarget.ES2022,
        strict: true,
        skipLibCheck: false,
        noEmit: true,
        typeRoots: [path.join(root, 'node_modules', '@types')],
        types: ['node'],
      });
      const errors = ts.getPreEmitDiagnostics(program).map((d) => ts.formatDiagnostic(d, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => app, getNewLine: () => '\n' }));
      expect(errors).toEqual([]);
      // The program really went through shears' declarations, not an empty module.
      expect(program.getSourceFiles().some((f) => f.fileName.endsWith(path.join('dist', 'lib', 'index.d.ts')))).toBe(true);
    } finally {
      fs.rmSync(app, { recursive: true, force: true });
    }
  });
});

test("git ignores the demo's default output folder shears-demo/", () => {
  const out = execFileSync('git', ['check-ignore', '-v', 'shears-demo/results.json'], { cwd: root, encoding: 'utf8' });
  expect(out).toContain('.gitignore');
  expect(out).toContain('shears-demo/');
});
