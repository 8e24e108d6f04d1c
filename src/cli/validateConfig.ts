// `shardherd validate-config FILE`: loads a configuration the way the agent would and prints
// every warning and problem, one per line; exits 1 when there is any problem.
import type { Command } from 'commander';
import { inspectConfig } from '../config/load.ts';

export function registerValidateConfig(program: Command): void {
  program
    .command('validate-config')
    .description('check a configuration file (or a directory of *.yml files) with environment overrides applied')
    .argument('<file>', 'YAML file or directory of YAML files')
    .action((file: string) => {
      const { problems, warnings } = inspectConfig(file, process.env);
      for (const w of warnings) process.stdout.write(`warning: ${w}\n`);
      if (problems.length === 0) {
        process.stdout.write(`${file}: configuration is valid\n`);
        return;
      }
      for (const p of problems) process.stderr.write(`error: ${p.path ? `${p.path}: ` : ''}${p.message}\n`);
      process.stderr.write(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'} found\n`);
      process.exitCode = 1;
    });
}
