import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../cli';
import { lintableFromDir, shippedLintable } from '../cli/commands/lint';
import { lintCatalogue } from '../domain/authoring/journeyLint';
import { lintTemplates } from '../domain/authoring/templateLint';
import { Captured } from './support/captured';

const FIXTURES = join(__dirname, 'fixtures', 'lint');


async function journeys(args: string[]) {
  const [stdout, stderr] = [new Captured(), new Captured()];
  const unused = async (): Promise<never> => {
    throw new Error('lint must need neither Temporal nor the store');
  };
  const code = await runCli(args, { connect: unused, openStore: unused, stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('journeys lint', () => {
  const problems = lintCatalogue(lintableFromDir(FIXTURES));
  const found = (where: string, message: RegExp) => problems.filter((p) => p.where === where && message.test(p.message));

  it('reports the planted shadowed rule', () => {
    expect(found('shadowedRule steps.1.template.rules.1', /rule "platinum" is never chosen: the earlier rule "gold"/)).toHaveLength(1);
  });

  it('reports the rule set without a fallback, from the raw definition', () => {
    expect(found('missingFallback steps.0.template.fallback', /no fallback/)).toHaveLength(1);
  });

  it('reports the step no path reaches', () => {
    expect(found('shadowedRule steps.3', /step "orphan" is never reached/)).toHaveLength(1);
  });

  it('reports the unknown template variable with its template and line', () => {
    expect(found('shadowedRule/nudge line 5', /unknown variable cartTotal/)).toHaveLength(1);
  });

  it('reports nothing else in the fixtures', () => {
    expect(problems).toHaveLength(4);
    expect(problems.every((p) => p.severity === 'error')).toBe(true);
  });

  it('passes the shipped catalogue', () => {
    expect(lintCatalogue(shippedLintable())).toEqual([]);
  });

  it('checks subjects, layouts, partials and defaults in templates', () => {
    const lint = lintTemplates({
      'x/a': '<p>{{ profile.attributes.name | default: "you" }} {{ brand.name | default: "Shop" }}</p>',
      'x/b': '---\nsubject: Hi {{ nickname }}\n---\n{% layout "_layouts/gone" %}{% if vip %}VIP{% endif %}{% for item in event.properties.items %}{{ item.name }}{% endfor %}',
    });
    expect(lint.map((p) => `${p.severity} ${p.where}: ${p.message.split(':')[0]}`)).toEqual([
      'error x/a: no subject',
      'error x/b line 4: layout "_layouts/gone" does not exist (no _layouts/gone.liquid)',
      'warning x/b line 4: unknown variable vip in a condition',
      'error x/b subject: unknown variable nickname',
    ]);
  });

  it('exits 1 with the problems on the fixtures, 0 with a summary on the shipped catalogue', async () => {
    const broken = await journeys(['lint', '--dir', FIXTURES]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/^error {4}shadowedRule\/nudge line 5 +unknown variable cartTotal/m);
    expect(broken.stdout).toContain('4 error(s), 0 warning(s)');

    const shipped = await journeys(['lint']);
    expect(shipped).toEqual({ code: 0, stdout: '0 error(s), 0 warning(s) in shipped journeys\n', stderr: '' });
  });
});
