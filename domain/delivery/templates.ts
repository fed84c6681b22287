import { compile, type HtmlToTextOptions } from 'html-to-text';
import {
  AssignTag,
  BlockTag,
  CommentTag,
  Context,
  defaultOperators,
  Drop,
  ForTag,
  IfTag,
  InlineCommentTag,
  isTruthy,
  LayoutTag,
  Liquid,
  Output,
  RawTag,
  RenderTag,
  Tag,
  toValue,
  toValueSync,
  TypeGuards,
  UnlessTag,
  type Template,
  type Token,
} from 'liquidjs';
import { fastTextPart } from './textPart';

export interface RenderedEmail {
  subject: string;
  preheader?: string;
  html: string;
  text: string;
}

export class TemplateError extends Error {
  constructor(
    message: string,
    /** The variable whose absence stopped the render, e.g. "event.properties.items". */
    readonly undefinedVariable?: string,
  ) {
    super(message);
  }
}

const FRONT_MATTER = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/;

/** Splits `---\nsubject: …\npreheader: …\n---` from the body; values are Liquid too. */
export function splitFrontMatter(source: string): { fields: Record<string, string>; body: string; bodyLine: number } {
  const match = FRONT_MATTER.exec(source);
  if (!match) return { fields: {}, body: source, bodyLine: 1 };
  const fields: Record<string, string> = {};
  for (const line of match[1].split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0) fields[line.slice(0, at).trim()] = line.slice(at + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  // Line numbers in the body count from its own start; `bodyLine` maps them back to the file.
  return { fields, body: source.slice(match[0].length), bodyLine: match[0].split('\n').length };
}

/**
 * `safe_url`: only http(s) and mailto links reach an href. A `javascript:` or `data:` URL
 * from a profile or an event (values customers or integrations control) becomes "#", which
 * escaping alone would not prevent: `javascript:alert(1)` has nothing to escape.
 */
export function safeUrl(value: unknown): string {
  const url = String(value ?? '').trim();
  return /^(https?:\/\/|mailto:)/i.test(url) ? url : '#';
}

/**
 * The one Liquid set-up both rendering and lint use, so lint sees what a send sees. HTML
 * output escapes every value; text output (subject, preheader) leaves it as written, and the
 * layout escapes it where it enters the HTML.
 */
export function createLiquid(bodies: Record<string, string>, output: 'html' | 'text' = 'html', options: { cache?: boolean } = {}): Liquid {
  const liquid = new Liquid({
    templates: bodies,
    cache: options.cache ?? false,
    outputEscape: output === 'html' ? 'escape' : undefined,
    strictVariables: true,
    lenientIf: true,
    ownPropertyOnly: true,
  });
  liquid.registerFilter('safe_url', safeUrl);
  return liquid;
}

/**
 * The text part: links once as "text [url]" (a link whose text is its URL only once), no
 * hidden preheader, tables read as lines rather than ASCII grids. textPart.ts writes the same
 * text without html-to-text for the documents it handles, after these options: a change here
 * is a change there (tests/textPart.test.ts compares the two).
 */
const textOptions: HtmlToTextOptions = {
  wordwrap: 78,
  selectors: [
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true, linkBrackets: ['[', ']'] } },
    { selector: '.preheader', format: 'skip' },
    { selector: 'table', format: 'dataTable', options: { uppercaseHeaderCells: false, colSpacing: 2 } },
    { selector: 'img', format: 'skip' },
  ],
};

/** `convert(html, textOptions)` compiles the options into a converter on every call (most of its cost): compiled once here. */
const convertToText = compile(textOptions);

/** At most one blank line in a row, and none around the text. */
const tidyText = (text: string): string => text.replace(/\n{3,}/g, '\n\n').trim();

/** The text part as html-to-text writes it: what `fastTextPart` must equal, and what converts the documents it leaves. */
export function libraryTextPart(html: string): string {
  return tidyText(convertToText(html));
}

export function htmlToText(html: string): string {
  return tidyText(fastTextPart(html) ?? convertToText(html));
}

/**
 * Renders email templates from in-memory sources keyed like "cartAbandonment/reminder1",
 * "_layouts/email", "_partials/cartItems". The body is escaped HTML, and an unknown variable
 * is an error rather than an empty string in a customer's inbox; `default` (as the first
 * filter) still works for values that may be missing (e.g. a first name). Subject and
 * preheader are plain text, as a mail client shows them (O'Brien, not O&#39;Brien), and are
 * passed to the body as `subject` and `preheader` for the layout, which escapes them there.
 *
 * Each template (body, layout, partials, subject, preheader) is parsed once, on its first
 * render, and the parsed form reused. The cache belongs to this renderer, whose sources are
 * copied when it is made and never change: a name always stands for the same content here.
 * Other content under the same name (an edited template, another journey version's pinned
 * templates) is another renderer with caches of its own (see worker/deps.ts).
 */
export function createTemplateRenderer(sources: Record<string, string>, options: { compiled?: boolean } = {}) {
  const compiled = options.compiled ?? true;
  const bodies: Record<string, string> = {};
  const frontMatter: Record<string, Record<string, string>> = {};
  for (const [name, source] of Object.entries(sources)) {
    const { fields, body } = splitFrontMatter(source);
    bodies[name] = body;
    frontMatter[name] = fields;
  }
  // Layouts and partials are looked up by name in `bodies` and parsed once by LiquidJS's own cache.
  const html = createLiquid(bodies, 'html', { cache: true });
  const text = createLiquid({}, 'text');
  // Each email's body, subject and preheader, parsed on its first render. One whose parse fails
  // is not kept, so it fails the same way on every render.
  const parsed = new Map<string, { body: Template[]; subject: Template[]; preheader?: Template[] }>();
  const parsedOf = (name: string, subject: string) => {
    let templates = parsed.get(name);
    if (!templates) {
      const preheader = frontMatter[name].preheader;
      templates = { body: html.parseFileSync(name), subject: text.parse(subject), preheader: preheader ? text.parse(preheader) : undefined };
      parsed.set(name, templates);
    }
    return templates;
  };
  // The compiled form when it renders (see `renderCompiled`); else, or to word an error, LiquidJS.
  const renderText = (templates: Template[], data: object): string => (compiled ? renderCompiled(text, templates, data) : undefined) ?? text.renderSync(templates, data);
  const renderHtml = (name: string, templates: Template[], data: object): string =>
    (compiled ? renderCompiled(html, templates, data) : undefined) ?? html.renderFileSync(name, data);

  return {
    has: (name: string) => name in bodies,
    /** Whether a template's own body names a variable, so costly data is loaded only for templates that show it. */
    mentions: (name: string, variable: string) => new RegExp(`\\b${variable}\\b`).test(bodies[name] ?? ''),
    async render(name: string, data: Record<string, unknown>): Promise<RenderedEmail> {
      if (!(name in bodies)) throw new TemplateError(`no template "${name}"`);
      const subjectSource = frontMatter[name].subject;
      if (!subjectSource) throw new TemplateError(`template "${name}" has no subject in its front matter`);
      try {
        // Every source is in memory, so rendering needs no I/O: LiquidJS renders synchronously, without a promise per node.
        const templates = parsedOf(name, subjectSource);
        const subject = renderText(templates.subject, data).trim();
        const preheader = templates.preheader ? renderText(templates.preheader, data).trim() : undefined;
        const body = renderHtml(name, templates.body, { ...data, subject, preheader: preheader ?? '' });
        return { subject, preheader, html: body, text: htmlToText(body) };
      } catch (err) {
        throw new TemplateError(`template "${name}": ${(err as Error).message}`, undefinedVariableOf(err));
      }
    },
  };
}
export type TemplateRenderer = ReturnType<typeof createTemplateRenderer>;

/** LiquidJS keeps the name of a variable strict rendering found undefined on the error it wraps. */
function undefinedVariableOf(err: unknown): string | undefined {
  for (let cause = err; cause instanceof Error; cause = (cause as { originalError?: unknown }).originalError) {
    const name = (cause as { variableName?: unknown }).variableName;
    if (typeof name === 'string') return name;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Rendering parsed templates without LiquidJS's interpreter.
//
// LiquidJS renders by driving a generator per node, expression and property read (its sync
// mode included), which costs microseconds per `{{ value }}`. Here a parsed template (LiquidJS's
// own `Template[]`) is turned once into closures that do what its `render` methods do, in the
// same order, through the same parts of LiquidJS: its `Context` (scopes, `findScope`,
// `readProperty`, registers), its filter functions (escaping included), operators, `isTruthy`.
// Only the control flow of the tags below is written here, after LiquidJS 10's.
//
// Anything else (another tag, a partial or layout named by a variable, a loop with offset, limit
// or reversed, `block.super`, the `*_exp` filters that evaluate expressions against the scopes)
// makes the whole template "not compiled", and LiquidJS renders it. A render that throws anywhere
// (an undefined variable, above all) is rendered again by LiquidJS, which throws its own error
// with its own wording; the closures never have to word one. Compiled forms are kept per parsed
// template (the `Template[]` LiquidJS parsed from one renderer's sources), never per name.
// tests/templateCache.test.ts renders every shipped template and many generated ones both ways.

type Emitter = { buffer: string };
type Run = (ctx: Context, out: Emitter) => void;
type Evaluate = (ctx: Context, lenient: boolean) => unknown;

/** A construct this compiler leaves to LiquidJS. */
class NotCompiled extends Error {}
/** A strict variable that is undefined: LiquidJS throws for it, with its wording. */
const UNDEFINED_VARIABLE = new Error('undefined variable');

const OUTPUT_MODE = 0;
const STORE_MODE = 1;

/** How LiquidJS writes a value out (`stringify` in its SimpleEmitter). */
function stringifyValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  value = toValue(value);
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (isArray(value)) return value.map(stringifyValue).join('');
  return String(value);
}

const ESCAPED: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' };
/** LiquidJS's `escape` filter (and output escaping) without a memory limit to count against: most values have nothing to escape. */
function escapeHtml(value: unknown): string {
  const text = stringifyValue(value);
  return /[&<>"']/.test(text) ? text.replace(/&|<|>|"|'/g, escapedChar) : text;
}
const escapedChar = (char: string): string => ESCAPED[char];
const hasOwn = Object.prototype.hasOwnProperty;

/**
 * `ctx.readProperty(obj, key)` as a strict `_getFromScope` step takes it, with LiquidJS's
 * own steps for an object (or array) read by a name other than size, first and last written
 * out: own properties only, a function called on its object, a generator driven.
 */
function readProperty(ctx: Context, obj: unknown, key: string | number): unknown {
  if (
    typeof key === 'string' &&
    typeof obj === 'object' &&
    obj !== null &&
    ctx.ownPropertyOnly &&
    key !== 'size' &&
    key !== 'first' &&
    key !== 'last' &&
    !(obj instanceof Drop) &&
    typeof (obj as { toLiquid?: unknown }).toLiquid !== 'function'
  ) {
    if (!hasOwn.call(obj, key)) return undefined;
    const value = (obj as Record<string, unknown>)[key];
    return typeof value === 'function' ? settled(value.call(obj)) : settled(value);
  }
  return settled(ctx.readProperty(obj as object, key));
}
const isArray = (value: unknown): value is unknown[] => Object.prototype.toString.call(value) === '[object Array]';
const isIterator = (value: unknown): value is Iterator<unknown> => {
  const v = value as { next?: unknown; throw?: unknown; return?: unknown } | null | undefined;
  return !!v && typeof v.next === 'function' && typeof v.throw === 'function' && typeof v.return === 'function';
};
/** LiquidJS drives a generator a property read or a filter returns; sync rendering does the same. */
const settled = (value: unknown): unknown =>
  (typeof value === 'object' || typeof value === 'function') && isIterator(value) ? toValueSync(value as IterableIterator<unknown>) : value;
const createScope = (from?: object): Record<string, unknown> => Object.assign(Object.create(null), from);

/** LiquidJS's `toEnumerable`, which `for` loops over. */
function toEnumerable(value: unknown): unknown[] {
  value = toValue(value);
  if (isArray(value)) return value;
  if (typeof value === 'string' && value.length > 0) return [value];
  const isObject = value !== null && (typeof value === 'object' || typeof value === 'function');
  if (isObject && Symbol.iterator in (value as object)) return Array.from(value as Iterable<unknown>);
  if (isObject) return Object.keys(value as object).map((key) => [key, (value as Record<string, unknown>)[key]]);
  return [];
}

/** LiquidJS's `forloop` (its class is not exported): the same fields in the same order, the same methods. */
class ForloopMethods extends Drop {
  declare i: number;
  declare length: number;
  next() {
    this.i++;
  }
  index0() {
    return this.i;
  }
  index() {
    return this.i + 1;
  }
  first() {
    return this.i === 0;
  }
  last() {
    return this.i === this.length - 1;
  }
  rindex() {
    return this.length - this.i;
  }
  rindex0() {
    return this.length - this.i - 1;
  }
  valueOf() {
    return JSON.stringify(this);
  }
}
/**
 * Made from the class's prototype rather than with `new`: tsx (esbuild's keepNames, as the
 * worker runs) renames every class as it is defined, and with `new` of a renamed subclass of
 * `Drop` a render of cartAbandonment/lastChance took about a third longer.
 */
function forloopDrop(length: number, collection: string, variable: string): ForloopMethods {
  const drop = Object.create(ForloopMethods.prototype) as ForloopMethods & { name: string };
  drop.i = 0;
  drop.length = length;
  drop.name = `${variable}-${collection}`;
  return drop;
}
/** What `{% block %}` puts in scope as `block`; templates that read `block` are left to LiquidJS. */
class BlockDrop extends Drop {}
const SUPER_BLOCK = new BlockDrop();

// LiquidJS's parsed nodes, as far as they are read here (their fields are not all public in its types).
interface ValueLike {
  initial: { postfix: Token[] };
  filters: { name: string; handler: (...args: unknown[]) => unknown; args: unknown[]; token: Token; liquid: Liquid }[];
}
interface HashLike {
  hash: Record<string, Token | undefined>;
}
type TokenLike = Token & { content?: unknown; operator?: string; variable?: TokenLike; props?: TokenLike[] };

/** What a block leaves for the layout to render (LiquidJS keeps a render function in the same register). */
interface StoredBlock {
  render(out: Emitter): void;
}
const storedBlocks = (ctx: Context) => ctx.getRegister('blocks', {}) as Record<string, StoredBlock>;
/** The part of a template outside its blocks, the layout's anonymous block. */
class RenderedBlock implements StoredBlock {
  constructor(private readonly html: string) {}
  render(out: Emitter): void {
    out.buffer += this.html;
  }
}
/** A block as LiquidJS's `getBlockRender` makes it: the child template's block of that name if one was stored, else its own content. */
class BlockContent implements StoredBlock {
  constructor(
    private readonly ctx: Context,
    private readonly node: object,
    private readonly body: Run,
    private readonly child: StoredBlock | undefined,
  ) {}
  render(out: Emitter): void {
    // LiquidJS hands the child's block a `block` whose `super` renders this one; `block` is never read here.
    if (this.child) return this.child.render(out);
    const stack = this.ctx.getRegister('blockStack', []) as unknown[];
    if (stack.includes(this.node)) throw new Error('block tag cannot be nested');
    stack.push(this.node);
    this.ctx.push(createScope({ block: SUPER_BLOCK }));
    this.body(this.ctx, out);
    this.ctx.pop();
    stack.pop();
  }
}
/** `Context.findScope`, public in LiquidJS's code and private in its types. */
interface Scopes {
  findScope(key: string): object;
}

const compiledTemplates = new WeakMap<Template[], Run | null>();

/** The closures of a parsed template, or undefined when LiquidJS is to render it. */
function compiledOf(liquid: Liquid, templates: Template[]): Run | undefined {
  let run = compiledTemplates.get(templates);
  if (run === undefined) {
    try {
      run = new TemplateCompiler(liquid).list(templates);
    } catch {
      // NotCompiled, or parsed nodes shaped otherwise than LiquidJS 10's: LiquidJS renders it.
      run = null;
    }
    compiledTemplates.set(templates, run);
  }
  return run ?? undefined;
}

/** Renders parsed templates as `liquid.renderSync(templates, data)` does, or says undefined: LiquidJS is to render them. */
function renderCompiled(liquid: Liquid, templates: Template[], data: object): string | undefined {
  const run = compiledOf(liquid, templates);
  if (!run) return undefined;
  try {
    const out: Emitter = { buffer: '' };
    run(new Context(data, liquid.options, { sync: true }, { liquid }), out);
    return out.buffer;
  } catch {
    return undefined;
  }
}

class TemplateCompiler {
  private readonly operators: Record<string, (...args: unknown[]) => unknown>;
  constructor(private readonly liquid: Liquid) {
    const options = liquid.options;
    // Only the set-up `createLiquid` makes: no limits to count against, Liquid's own operators and truthiness.
    if (
      options.operators !== defaultOperators ||
      options.jsTruthy ||
      options.keepOutputType ||
      options.catchAllErrors ||
      options.memoryLimit !== Infinity ||
      options.renderLimit !== Infinity ||
      options.orderedFilterParameters
    ) {
      throw new NotCompiled();
    }
    this.operators = options.operators as unknown as Record<string, (...args: unknown[]) => unknown>;
  }

  list(templates: Template[]): Run {
    const runs = templates.map((template) => this.node(template));
    if (runs.length === 1) return runs[0];
    return (ctx, out) => {
      for (let i = 0; i < runs.length; i++) runs[i](ctx, out);
    };
  }

  private node(template: Template): Run {
    const node = template as unknown as Record<string, unknown> & { token: Token };
    const type = (template as object).constructor;
    if (type === Output) {
      const value = this.value(node.value as ValueLike);
      return (ctx, out) => {
        out.buffer += stringifyValue(settled(toValue(value(ctx, false))));
      };
    }
    if (!(template instanceof Tag) && TypeGuards.isHTMLToken(node.token) && typeof node.str === 'string') {
      const str = node.str;
      return (_ctx, out) => {
        out.buffer += str;
      };
    }
    if (type === IfTag) return this.if(node.branches as { value: ValueLike; templates: Template[] }[], node.elseTemplates as Template[] | undefined);
    if (type === UnlessTag) return this.unless(node.branches as { value: ValueLike; test: (v: unknown, ctx: Context) => boolean; templates: Template[] }[], node.elseTemplates as Template[]);
    if (type === ForTag) return this.for(node);
    if (type === AssignTag) {
      const key = node.key as string;
      const value = this.value(node.value as ValueLike);
      const lenient = !!this.liquid.options.lenientIf;
      return (ctx) => {
        ctx.bottom()[key] = value(ctx, lenient);
      };
    }
    if (type === RenderTag) return this.render(node);
    if (type === LayoutTag) return this.layout(node);
    if (type === BlockTag) return this.block(node);
    if (type === CommentTag || type === InlineCommentTag) return () => {};
    if (type === RawTag) {
      const text = (node.tokens as Token[]).map((token) => token.getText()).join('');
      return (_ctx, out) => {
        if (text) out.buffer += text;
      };
    }
    throw new NotCompiled();
  }

  private if(branches: { value: ValueLike; templates: Template[] }[], elseTemplates: Template[] | undefined): Run {
    const lenient = !!this.liquid.options.lenientIf;
    const compiled = branches.map((branch) => ({ value: this.value(branch.value), run: this.list(branch.templates) }));
    const otherwise = this.list(elseTemplates ?? []);
    return (ctx, out) => {
      for (const branch of compiled) {
        if (isTruthy(settled(toValue(branch.value(ctx, lenient))), ctx)) return branch.run(ctx, out);
      }
      otherwise(ctx, out);
    };
  }

  private unless(branches: { value: ValueLike; test: (v: unknown, ctx: Context) => boolean; templates: Template[] }[], elseTemplates: Template[]): Run {
    const lenient = !!this.liquid.options.lenientIf;
    const compiled = branches.map((branch) => ({ value: this.value(branch.value), test: branch.test, run: this.list(branch.templates) }));
    const otherwise = this.list(elseTemplates);
    return (ctx, out) => {
      for (const branch of compiled) {
        if (branch.test(settled(toValue(branch.value(ctx, lenient))), ctx)) return branch.run(ctx, out);
      }
      otherwise(ctx, out);
    };
  }

  /** `{% for x in list %}` without offset, limit or reversed (and so without `continue` offsets). */
  private for(node: Record<string, unknown>): Run {
    if (Object.keys((node.hash as HashLike).hash).length) throw new NotCompiled();
    const variable = node.variable as string;
    const collectionToken = node.collection as TokenLike;
    const collectionText = collectionToken.getText();
    const collection = this.token(collectionToken);
    const body = this.list(node.templates as Template[]);
    const otherwise = this.list(node.elseTemplates as Template[]);
    const continueKey = `continue-${variable}-${collectionText}`;
    return (ctx, out) => {
      const items = toEnumerable(collection(ctx, false));
      if (!items.length) return otherwise(ctx, out);
      ctx.getRegister(continueKey, {});
      ctx.setRegister(continueKey, 0 + items.length);
      const forloop = forloopDrop(items.length, collectionText, variable);
      const scope = createScope({ forloop });
      ctx.push(scope);
      for (const item of items) {
        scope[variable] = item;
        ctx.continueCalled = ctx.breakCalled = false;
        body(ctx, out);
        if (ctx.breakCalled) break;
        forloop.next();
      }
      ctx.continueCalled = ctx.breakCalled = false;
      ctx.pop();
    };
  }

  /** `{% render "name", key: value %}`: the partial in a context of its own that sees only what is passed. */
  private render(node: Record<string, unknown>): Run {
    const file = node.file;
    if (typeof file !== 'string' || !file || node.with || node.forBinding) throw new NotCompiled();
    const hash = this.hash(node.hash as HashLike);
    const partial = this.file(() => this.liquid._parsePartialFile(file, true, node.currentFile as string | undefined));
    return (ctx, out) => {
      const child = ctx.spawn();
      Object.assign(child.bottom(), hash(ctx));
      partial()(child, out);
    };
  }

  /** `{% layout "name" %}`: the rest of the template stores its blocks, then the layout renders with them. */
  private layout(node: Record<string, unknown>): Run {
    const rest = this.list(node.templates as Template[]);
    const file = node.file;
    if (file === undefined) {
      return (ctx, out) => {
        ctx.setRegister('blockMode', OUTPUT_MODE);
        rest(ctx, out);
      };
    }
    if (typeof file !== 'string' || !file) throw new NotCompiled();
    const args = this.hash(node.args as HashLike);
    const layout = this.file(() => this.liquid._parseLayoutFile(file, true, node.currentFile as string | undefined));
    return (ctx, out) => {
      const run = layout();
      ctx.setRegister('blockMode', STORE_MODE);
      const stored: Emitter = { buffer: '' };
      rest(ctx, stored);
      const html = stored.buffer;
      const blocks = storedBlocks(ctx);
      if (blocks[''] === undefined) blocks[''] = new RenderedBlock(html);
      ctx.setRegister('blockMode', OUTPUT_MODE);
      ctx.push(createScope(args(ctx)));
      run(ctx, out);
      ctx.pop();
    };
  }

  private block(node: Record<string, unknown>): Run {
    const name = node.block as string;
    const body = this.list(node.templates as Template[]);
    return (ctx, out) => {
      const block = new BlockContent(ctx, node, body, storedBlocks(ctx)[name]);
      if (ctx.getRegister('blockMode') === STORE_MODE) storedBlocks(ctx)[name] = block;
      else block.render(out);
    };
  }

  /** A partial or layout, looked up and compiled on its first render (LiquidJS also looks it up only when it renders). */
  private file(parse: () => Generator<unknown, Template[]>): () => Run {
    let run: Run | undefined;
    return () => {
      if (!run) {
        const compiled = compiledOf(this.liquid, toValueSync(parse()) as Template[]);
        if (!compiled) throw new NotCompiled();
        run = compiled;
      }
      return run;
    };
  }

  private hash(hash: HashLike): (ctx: Context) => Record<string, unknown> {
    const entries = Object.keys(hash.hash).map((key) => {
      const token = hash.hash[key];
      return [key, token === undefined ? undefined : this.token(token as TokenLike)] as const;
    });
    return (ctx) => {
      const values: Record<string, unknown> = {};
      for (const [key, value] of entries) values[key] = value === undefined ? true : value(ctx, false);
      return values;
    };
  }

  /** A `Value` (an expression and its filters), as `Value.value(ctx, lenient)` evaluates it. */
  private value(value: ValueLike): Evaluate {
    const lenientFirst = !!this.liquid.options.lenientIf && value.filters.length > 0 && value.filters[0].name === 'default';
    const initial = this.expression(value.initial.postfix);
    const filters = value.filters.map((filter) => {
      // These evaluate expressions against the context's scopes, which hold less here (no `block`).
      if (filter.name.endsWith('_exp')) throw new NotCompiled();
      const { handler, token, liquid } = filter;
      const args = filter.args.map((arg) =>
        isArray(arg) ? { key: arg[0] as string, value: this.token(arg[1] as TokenLike | undefined) } : { key: undefined, value: this.token(arg as TokenLike) },
      );
      if (handler === this.liquid.filters.escape && !args.length) return (input: unknown): unknown => escapeHtml(input);
      if (args.length === 0) return (input: unknown, ctx: Context): unknown => settled(handler.call({ context: ctx, token, liquid }, input));
      if (args.length === 1 && args[0].key === undefined) {
        const arg = args[0].value;
        return (input: unknown, ctx: Context): unknown => settled(handler.call({ context: ctx, token, liquid }, input, arg(ctx, false)));
      }
      return (input: unknown, ctx: Context): unknown => {
        const argv: unknown[] = [input];
        for (const arg of args) argv.push(arg.key === undefined ? arg.value(ctx, false) : [arg.key, arg.value(ctx, false)]);
        return settled(handler.apply({ context: ctx, token, liquid }, argv));
      };
    });
    if (!filters.length) return (ctx, lenient) => initial(ctx, lenient || lenientFirst);
    return (ctx, lenient) => {
      let result = initial(ctx, lenient || lenientFirst);
      for (let i = 0; i < filters.length; i++) result = filters[i](result, ctx);
      return result;
    };
  }

  /** An expression in postfix order, with LiquidJS's operators (`not` is the unary one). */
  private expression(postfix: TokenLike[]): Evaluate {
    if (postfix.length === 1 && !TypeGuards.isOperatorToken(postfix[0])) return this.token(postfix[0]);
    const steps = postfix.map((token) => (TypeGuards.isOperatorToken(token) ? { operator: (token as TokenLike).operator! } : { operand: this.token(token) }));
    const operators = this.operators;
    return (ctx, lenient) => {
      const operands: unknown[] = [];
      for (const step of steps) {
        if (step.operand) {
          operands.push(step.operand(ctx, lenient));
          continue;
        }
        const right = operands.pop();
        const operator = operators[step.operator!];
        operands.push(settled(step.operator === 'not' ? operator(right, ctx) : operator(operands.pop(), right, ctx)));
      }
      return operands[0];
    };
  }

  /** `evalToken`: a literal, or a variable read through the context's scopes. */
  private token(token: TokenLike | undefined): Evaluate {
    if (!token) return () => undefined;
    if ('content' in token) {
      const content = token.content;
      return () => content;
    }
    if (!TypeGuards.isPropertyAccessToken(token)) throw new NotCompiled();
    const props = (token.props ?? []).map((prop) => {
      if (!('content' in prop)) throw new NotCompiled();
      return toValue(prop.content) as string | number;
    });
    const variable = token.variable;
    if (variable !== undefined && !('content' in variable)) throw new NotCompiled();
    // `block` is LiquidJS's own `BlockDrop` inside a block (`block.super`); `forloop` is the replica above.
    if (variable === undefined && props[0] === 'block') throw new NotCompiled();
    const start = variable?.content;
    return (ctx, lenient) => {
      let value: unknown = variable === undefined ? (ctx as unknown as Scopes).findScope(props[0] as string) : start;
      for (let i = 0; i < props.length; i++) {
        value = readProperty(ctx, value, props[i]);
        if (value === undefined && ctx.strictVariables) {
          if (lenient) return null;
          throw UNDEFINED_VARIABLE;
        }
      }
      return value;
    };
  }
}
