// Collects one suite's measurements, computes ratios against a baseline row measured in
// the same run, prints aligned tables (a main one, plus any extra ones a suite adds),
// writes bench/results/<suite>.json and rewrites the suite's section of bench/RESULTS.md.
// Single-threaded: one Report per suite run.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineSummary } from './machine.js';

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const resultsDir = path.join(benchDir, 'results');
const resultsMarkdown = path.join(benchDir, 'RESULTS.md');

/** Median of a non-empty list of numbers (mean of the middle two for even lengths). */
export function median(values) {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function formatValue(value, digits) {
  if (value === undefined || value === null || Number.isNaN(value)) return '—';
  if (typeof value === 'string') return value;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function verdictWord(pass) {
  if (pass === true) return 'MET';
  if (pass === false) return 'NOT MET';
  return 'UNKNOWN';
}

/**
 * One table: rows grouped by case, each with its ratio to the group's baseline row on
 * the primary metric. A Report owns a main table and any number of extra ones.
 */
export class Table {
  #title;
  #baseline;
  #primary;
  #ratioLabel;
  #columns;
  #rows = [];

  /**
   * @param {object} spec
   * @param {string} [spec.title]      heading of an extra table (the main one has none)
   * @param {string} spec.baseline     variant name whose row, in each group, is the ratio's denominator
   * @param {string} spec.primary      metric key the ratio is computed on
   * @param {string} spec.ratioLabel   column header for the ratio, saying which way is better
   * @param {{key: string, label: string, digits?: number}[]} spec.columns  metric columns, in order
   */
  constructor(spec) {
    this.#title = spec.title;
    this.#baseline = spec.baseline;
    this.#primary = spec.primary;
    this.#ratioLabel = spec.ratioLabel;
    this.#columns = spec.columns;
  }

  get title() {
    return this.#title;
  }

  /**
   * Records a measured row. `metrics` holds the column values; `samples` the raw
   * per-run numbers behind them (kept in the JSON only).
   */
  add(group, variant, { metrics, samples = {}, note = '' }) {
    this.#rows.push({ group, variant, metrics, samples, note, unavailable: undefined });
  }

  /**
   * Records a row that could not be measured; it is printed, loudly, as
   * `<label>: <reason>` (label e.g. UNAVAILABLE, SKIPPED, FAILED).
   */
  addUnavailable(group, variant, reason, label = 'UNAVAILABLE') {
    this.#rows.push({ group, variant, metrics: {}, samples: {}, note: '', unavailable: `${label}: ${reason}` });
  }

  /** The measured primary metric (or `key`) of a row, or undefined when absent or unavailable. */
  value(group, variant, key = this.#primary) {
    const row = this.#rows.find((r) => r.group === group && r.variant === variant && r.unavailable === undefined);
    return row?.metrics[key];
  }

  #ratio(row) {
    if (row.unavailable !== undefined) return undefined;
    const base = this.value(row.group, this.#baseline);
    const mine = row.metrics[this.#primary];
    if (base === undefined || mine === undefined || base === 0) return undefined;
    return mine / base;
  }

  #cells(row) {
    const ratio = this.#ratio(row);
    const metricCells = this.#columns.map((c) =>
      row.unavailable !== undefined ? '—' : formatValue(row.metrics[c.key], c.digits ?? 1),
    );
    const note = row.unavailable ?? row.note;
    return [row.group, row.variant, ...metricCells, ratio === undefined ? '—' : `${ratio.toFixed(2)}×`, note];
  }

  // Rows of one group stay together, groups in the order they first appeared.
  #orderedRows() {
    const groups = [...new Set(this.#rows.map((r) => r.group))];
    return groups.flatMap((g) => this.#rows.filter((r) => r.group === g));
  }

  #header() {
    return ['case', 'variant', ...this.#columns.map((c) => c.label), this.#ratioLabel, 'note'];
  }

  /** The aligned plain-text table for stdout. */
  textTable() {
    const rows = [this.#header(), ...this.#orderedRows().map((r) => this.#cells(r))];
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    const textCol = (i) => i < 2 || i === widths.length - 1;
    const line = (r) =>
      r
        .map((cell, i) => (textCol(i) ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
        .join('  ')
        .trimEnd();
    const out = [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  ')];
    let previousGroup;
    for (const r of rows.slice(1)) {
      if (previousGroup !== undefined && r[0] !== previousGroup) out.push('');
      previousGroup = r[0];
      out.push(line(r));
    }
    return out.join('\n');
  }

  markdownTable() {
    const header = this.#header();
    const align = header.map((_, i) => (i < 2 || i === header.length - 1 ? '---' : '---:'));
    const esc = (s) => s.replace(/\|/g, '\\|');
    const rows = this.#orderedRows().map((r) => this.#cells(r));
    return [header, align, ...rows].map((r) => `| ${r.map(esc).join(' | ')} |`).join('\n');
  }

  toJSON() {
    return {
      ...(this.#title === undefined ? {} : { title: this.#title }),
      baseline: this.#baseline,
      primaryMetric: this.#primary,
      columns: this.#columns,
      rows: this.#orderedRows().map((r) => ({ ...r, ratioToBaseline: this.#ratio(r) ?? null, unavailable: r.unavailable ?? null })),
    };
  }
}

export class Report {
  #suite;
  #title;
  #command;
  #main;
  #extraTables = [];
  #goals = [];
  #footnotes;
  #options;
  #artifacts = [];

  /**
   * @param {object} spec
   * @param {string} spec.suite        suite name: results/<suite>.json and the RESULTS.md section
   * @param {string} spec.title        one-line description of what is measured
   * @param {string} spec.command      how to reproduce the run
   * @param {string} spec.baseline     variant name whose row, in each group, is the ratio's denominator
   * @param {string} spec.primary      metric key the ratio is computed on
   * @param {string} spec.ratioLabel   column header for the ratio, saying which way is better
   * @param {{key: string, label: string, digits?: number}[]} spec.columns  metric columns, in order
   * @param {string[]} [spec.footnotes] method notes printed under the table
   * @param {object} [spec.options]    the run's options, recorded in the JSON
   */
  constructor(spec) {
    this.#suite = spec.suite;
    this.#title = spec.title;
    this.#command = spec.command;
    this.#main = new Table(spec);
    this.#footnotes = spec.footnotes ?? [];
    this.#options = spec.options ?? {};
  }

  /** Adds an extra table (same spec as the main one, plus its `title`), printed after the main one. */
  table(spec) {
    const table = new Table(spec);
    this.#extraTables.push(table);
    return table;
  }

  /** Names a file the suite wrote beside the JSON (e.g. a chart), linked from RESULTS.md. */
  addArtifact(relativeToBench, label) {
    this.#artifacts.push({ path: relativeToBench, label });
  }

  /** Records a measured row of the main table (see Table#add). */
  add(group, variant, row) {
    this.#main.add(group, variant, row);
  }

  /** Records an unmeasured row of the main table (see Table#addUnavailable). */
  addUnavailable(group, variant, reason, label = 'UNAVAILABLE') {
    this.#main.addUnavailable(group, variant, reason, label);
  }

  /** The measured primary metric (or `key`) of a main-table row, or undefined. */
  value(group, variant, key) {
    return this.#main.value(group, variant, key);
  }

  /** Records a goal and whether it was met (`pass` undefined when it cannot be judged). */
  addGoal(text, pass, detail = '') {
    this.#goals.push({ text, pass, detail });
  }

  get goalsMet() {
    return this.#goals.every((g) => g.pass === true);
  }

  /** The main table as aligned plain text. */
  textTable() {
    return this.#main.textTable();
  }

  #goalLines(emphasis = '') {
    return this.#goals.map(
      (g) => `${emphasis}${verdictWord(g.pass)}${emphasis}: ${g.text}${g.detail ? ` (${g.detail})` : ''}`,
    );
  }

  #markdownSection(machine) {
    const begin = `<!-- bench:${this.#suite}:begin -->`;
    const end = `<!-- bench:${this.#suite}:end -->`;
    const parts = [
      begin,
      `## ${this.#suite}: ${this.#title}`,
      '',
      `Run with \`${this.#command}\` on ${machineSummary(machine)}.`,
      '',
      this.#main.markdownTable(),
      '',
    ];
    for (const table of this.#extraTables) parts.push(`### ${table.title}`, '', table.markdownTable(), '');
    for (const a of this.#artifacts) parts.push(`![${a.label}](${a.path})`, '');
    if (this.#goals.length > 0) parts.push(...this.#goalLines('**').map((l) => `- ${l}`), '');
    parts.push(...this.#footnotes.map((f, i) => `${i + 1}. ${f}`), '', end);
    return { begin, end, text: parts.join('\n') };
  }

  async #rewriteMarkdown(machine) {
    const section = this.#markdownSection(machine);
    let current;
    try {
      current = await readFile(resultsMarkdown, 'utf8');
    } catch (error) {
      if (error.code !== 'ENOENT') throw error;
      current =
        '# cairn benchmark results\n\n' +
        'Each section is rewritten by its suite (`npm run bench -- <suite>`); edit the suites, not this file.\n';
    }
    const start = current.indexOf(section.begin);
    const stop = current.indexOf(section.end);
    const next =
      start !== -1 && stop > start
        ? current.slice(0, start) + section.text + current.slice(stop + section.end.length)
        : `${current.trimEnd()}\n\n${section.text}\n`;
    await writeFile(resultsMarkdown, next);
  }

  /** Prints the table and verdicts, writes the JSON and the Markdown section. */
  async finish(machine) {
    const lines = [
      '',
      `${this.#suite}: ${this.#title}`,
      machineSummary(machine),
      '',
      this.#main.textTable(),
      '',
      ...this.#extraTables.flatMap((t) => [t.title, '', t.textTable(), '']),
      ...this.#goalLines(),
      ...this.#footnotes.map((f, i) => `[${i + 1}] ${f}`),
      '',
    ];
    process.stdout.write(lines.join('\n') + '\n');
    const json = {
      suite: this.#suite,
      title: this.#title,
      command: this.#command,
      machine,
      options: this.#options,
      ...this.#main.toJSON(),
      ...(this.#extraTables.length > 0 ? { tables: this.#extraTables.map((t) => t.toJSON()) } : {}),
      ...(this.#artifacts.length > 0 ? { artifacts: this.#artifacts } : {}),
      goals: this.#goals.map((g) => ({ ...g, pass: g.pass ?? null })),
      footnotes: this.#footnotes,
    };
    await mkdir(resultsDir, { recursive: true });
    const jsonPath = path.join(resultsDir, `${this.#suite}.json`);
    await writeFile(jsonPath, JSON.stringify(json, null, 2) + '\n');
    await this.#rewriteMarkdown(machine);
    process.stdout.write(`wrote ${path.relative(process.cwd(), jsonPath)} and ${path.relative(process.cwd(), resultsMarkdown)}\n`);
  }
}
