// Loading a member configuration: one YAML file or a directory of them (merged in alphabetical
// order), then environment overrides, then validation; every problem is reported at once.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ConfigError, type ConfigProblem } from '../errors.ts';
import { environmentOverrides } from './env.ts';
import { describe, isMap, type RawMap } from './findings.ts';
import { mergeConfig } from './merge.ts';
import type { Config } from './types.ts';
import { validateConfig } from './validate.ts';

export interface LoadedConfig {
  config: Config;
  /** Settings ignored (not implemented yet, unknown keys): worth logging once at start. */
  warnings: string[];
}

/** The files a path stands for: itself, or the *.yml/*.yaml files of a directory in name order. */
export function configFiles(configPath: string): string[] {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(configPath);
  } catch (err) {
    throw new ConfigError([
      { path: configPath, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` },
    ]);
  }
  if (!stat.isDirectory()) return [configPath];
  const files = fs
    .readdirSync(configPath)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => path.join(configPath, name))
    .filter((file) => fs.statSync(file).isFile());
  if (files.length === 0)
    throw new ConfigError([{ path: configPath, message: 'directory holds no *.yml or *.yaml file' }]);
  return files;
}

/** Parses one file as YAML 1.1, as Patroni (PyYAML) does: `on`/`yes` are booleans there. */
function readYamlFile(file: string, problems: ConfigProblem[]): RawMap {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    problems.push({ path: file, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
    return {};
  }
  const doc = YAML.parseDocument(text, { version: '1.1', prettyErrors: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const at = e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}: ` : '';
      const what = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
      problems.push({ path: file, message: `invalid YAML: ${at}${what}` });
    }
    return {};
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (!isMap(value)) {
    problems.push({ path: file, message: `expected a map of settings, got ${describe(value)}` });
    return {};
  }
  return value;
}

/** A problem with a value that came from the environment names the variable to fix. */
function blameVariable(problem: ConfigProblem, sources: Map<string, string>): ConfigProblem {
  for (const [dotted, variable] of sources) {
    if (problem.path === dotted || problem.path.startsWith(`${dotted}[`) || problem.path.startsWith(`${dotted}.`)) {
      return { path: variable, message: `${problem.message} (sets ${problem.path})` };
    }
  }
  return problem;
}

export interface ConfigReport {
  /** Null when there are problems. */
  config: Config | null;
  problems: ConfigProblem[];
  warnings: string[];
}

/**
 * The merged YAML of a path with environment overrides applied, before validation; `blame`
 * maps a validation problem onto the variable that set the value, when one did.
 */
export type RawConfig =
  | { ok: true; raw: RawMap; blame: (problem: ConfigProblem) => ConfigProblem }
  | { ok: false; problems: ConfigProblem[] };

export function readRawConfig(configPath: string, env: NodeJS.ProcessEnv = process.env): RawConfig {
  let files: string[];
  try {
    files = configFiles(configPath);
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, problems: err.problems };
    throw err;
  }
  const problems: ConfigProblem[] = [];
  let merged: RawMap = {};
  for (const file of files) merged = mergeConfig(merged, readYamlFile(file, problems));
  if (problems.length > 0) return { ok: false, problems };

  const { overlay, sources } = environmentOverrides(env);
  return { ok: true, raw: mergeConfig(merged, overlay), blame: (problem) => blameVariable(problem, sources) };
}

/** Like loadConfig, but returns problems and warnings together instead of throwing. */
export function inspectConfig(configPath: string, env: NodeJS.ProcessEnv = process.env): ConfigReport {
  const read = readRawConfig(configPath, env);
  if (!read.ok) return { config: null, problems: read.problems, warnings: [] };
  const result = validateConfig(read.raw);
  return { config: result.config, problems: result.problems.map(read.blame), warnings: result.warnings };
}

/** Loads and validates; throws ConfigError listing every problem. */
export function loadConfig(configPath: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const report = inspectConfig(configPath, env);
  if (!report.config) throw new ConfigError(report.problems);
  return { config: report.config, warnings: report.warnings };
}
