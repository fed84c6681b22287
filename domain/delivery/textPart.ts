import { Tokenizer, type TokenizerCallbacks } from 'htmlparser2';

// ---------------------------------------------------------------------------------------------
// The text part without html-to-text's DOM and selector matching.
//
// html-to-text (v9) parses the whole document into a DOM, picks a formatter for each element
// by running its selectors through selderee, and lays text out with its BlockTextBuilder. Here
// htmlparser2's tokenizer (one major version on from the one html-to-text uses) streams the
// document, and `Reader` builds the elements from its tokens as htmlparser2's Parser does (its
// implied closes and void elements, the same tables in both versions) without the attribute
// objects and callbacks the Parser makes for every tag. Each element's formatter is chosen by
// its name (and a class list for `.preheader`), and the layout is html-to-text's, written out
// after v9.0.5: its inline builder (words, wrapping, long words), whitespace processor, block,
// list and table builders and `tableToString`, in the same order of calls, for the options
// `textOptions` in templates.ts states (wordwrap 78, links "text [url]", `.preheader` and
// images skipped, tables as dataTable with colSpacing 2 and no uppercase headers).
//
// Anything else makes the whole document "not handled", and html-to-text converts it: an
// element not named below (pre, blockquote, wbr, forms, media, svg…), colspan or rowspan, a
// table inside a table, an ordered list with a start, a type or more than nine items, a list
// with anything but items in it, a table with rows of different lengths, a document with an
// html or head element but no body, or with more than one body, svg and math (whose
// self-closing tags the Parser honours), and markup the two htmlparser2 versions read
// differently (an entity without its semicolon, which v8 leaves undecoded in some attributes
// and at the end of the input; textarea and xmp, raw text only in v10). A fragment (no html, head or body tag at all, as a template without a layout
// renders) is read as a body's content: html-to-text, finding no body, converts the whole
// document, and a body is inline to it. tests/textPart.test.ts compares both on every shipped
// template and thousands of generated documents and fragments.

/** formatList drops children that are blank by JavaScript's `\s`, a wider set than html-to-text's whitespace. */
const BLANK = /^\s*$/;
/** After an `&`: a reference not closed by a semicolon, which the two htmlparser2 versions decode differently. */
const OPEN_REFERENCE = /#(?![0-9]+;|[xX][0-9a-fA-F]+;)|[a-zA-Z](?![a-zA-Z0-9]*;)/y;
const MAX_INPUT_LENGTH = 1 << 24;
const WORDWRAP = 78;
const MAX_COLUMN_WIDTH = 60;
const COL_SPACING = 2;

/** A tag that makes markup a document rather than a fragment: html, head or body, opening or closing. */
const DOCUMENT_TAG = /<\/?(?:html|head|body)(?=[\s/>]|$)/i;

/** Thrown where the document leaves the subset: html-to-text converts it. */
const NOT_HANDLED = new Error('not handled by the fast path');

/**
 * html-to-text's InlineTextBuilder without wrap characters, forced wraps or no-wrap runs (none
 * are configured); lines are kept as strings rather than arrays of words.
 */
class Inline {
  /** The finished lines, each followed by a newline. */
  lines = '';
  hasLines = false;
  /** The line being built: its words joined by spaces, how many there are, and the last. */
  line = '';
  words = 0;
  lastWord = '';
  available: number;
  stashedSpace = false;

  constructor(readonly maxLineLength: number) {
    this.available = maxLineLength;
  }

  pushWord(word: string): void {
    if (this.available <= 0) this.startNewLine();
    const isLineStart = this.words === 0;
    const cost = word.length + (isLineStart ? 0 : 1);
    if (cost <= this.available) {
      this.append(word);
      this.available -= cost;
      return;
    }
    const parts = this.splitLongWord(word);
    if (!isLineStart) this.startNewLine();
    this.append(parts[0]);
    this.available -= parts[0].length;
    for (let i = 1; i < parts.length; i++) {
      this.startNewLine();
      this.append(parts[i]);
      this.available -= parts[i].length;
    }
  }

  /** The word joined to the last one on the line (html-to-text pops it and pushes both as one). */
  concatWord(word: string): void {
    if (this.words === 0) return this.pushWord(word);
    const last = this.lastWord;
    this.words--;
    this.line = this.words ? this.line.slice(0, this.line.length - last.length - 1) : '';
    this.available += last.length + (this.words === 0 ? 0 : 1);
    this.pushWord(last + word);
  }

  startNewLine(n = 1): void {
    this.lines += this.line + '\n'.repeat(n);
    this.hasLines = true;
    this.line = '';
    this.words = 0;
    this.available = this.maxLineLength;
  }

  isEmpty(): boolean {
    return !this.hasLines && this.words === 0;
  }

  clear(): void {
    this.lines = '';
    this.hasLines = false;
    this.line = '';
    this.words = 0;
    this.available = this.maxLineLength;
  }

  toString(): string {
    return this.lines + this.line;
  }

  private append(word: string): void {
    this.line = this.words ? this.line + ' ' + word : word;
    this.words++;
    this.lastWord = word;
  }

  /**
   * With no wrap characters configured, html-to-text looks for `wrapCharacters[0]`, which is
   * undefined, and `lastIndexOf(undefined)` looks for the text "undefined": a long word is
   * split after the "u" of an "undefined" in its first line's worth, and otherwise kept whole.
   */
  private splitLongWord(word: string): string[] {
    const parts: string[] = [];
    while (word.length > this.maxLineLength) {
      const firstLine = word.substring(0, this.maxLineLength);
      const at = firstLine.lastIndexOf('undefined');
      if (at < 0) break;
      parts.push(firstLine.substring(0, at + 1));
      word = firstLine.substring(at + 1) + word.substring(this.maxLineLength);
    }
    parts.push(word);
    return parts;
  }
}

/** A block, list, list item or table cell of html-to-text's BlockTextBuilder: the items text goes into. */
class Box {
  readonly inline: Inline;
  rawText = '';
  stashedLineBreaks = 0;

  constructor(
    maxLineLength: number,
    public leadingLineBreaks: number,
    /** A list item's prefix. */
    readonly prefix = '',
  ) {
    this.inline = new Inline(maxLineLength);
  }

  text(): string {
    return this.inline.isEmpty() ? this.rawText : this.rawText + this.inline.toString();
  }

  /** html-to-text's `addText`: a finished block's text, after at least `leadingLineBreaks` newlines. */
  addText(text: string, leadingLineBreaks: number, trailingLineBreaks: number): void {
    const parentText = this.text();
    const lineBreaks = Math.max(this.stashedLineBreaks, leadingLineBreaks);
    this.inline.clear();
    if (parentText) {
      this.rawText = parentText + '\n'.repeat(lineBreaks) + text;
    } else {
      this.rawText = text;
      this.leadingLineBreaks = lineBreaks;
    }
    this.stashedLineBreaks = trailingLineBreaks;
  }
}

const enum Kind {
  /** Outside the body, or inside an element whose content is not written (skipped, or not a part of a table). */
  Ignored,
  Inline,
  Block,
  Heading,
  Anchor,
  List,
  Table,
  TableSection,
  Row,
  Cell,
}

interface Frame {
  kind: Kind;
  name: string;
  /** A block's trailing line breaks; a list's count of items so far. */
  count: number;
  /** A link's href and the text of its words, as html-to-text collects them. */
  href: string;
  text: string;
  /** A list's items' prefix (an unordered list's; an ordered list numbers them). */
  prefix: string;
  ordered: boolean;
  nested: boolean;
  /** An item of a list: its text goes into the list when it closes, even if its content is skipped. */
  item: boolean;
}

/** Word transforms, applied from the innermost out: an uppercase heading, or a link collecting its text. */
type Transform = Frame | 'upper';

const INLINE = new Set([
  'span', 'strong', 'b', 'em', 'i', 'u', 's', 'small', 'big', 'sub', 'sup', 'font', 'kbd', 'code', 'tt', 'var', 'samp',
  'mark', 'abbr', 'cite', 'q', 'dfn', 'time', 'ins', 'del', 'strike', 'bdi', 'bdo', 'label',
]);
const BLOCKS = new Set(['div', 'article', 'aside', 'footer', 'form', 'header', 'main', 'nav', 'section']);
/** A heading's leading line breaks (its trailing ones are two). */
const HEADINGS = new Map([['h1', 3], ['h2', 3], ['h3', 3], ['h4', 2], ['h5', 2], ['h6', 2]]);

/** The attributes that decide an element's format; the others are not kept. */
interface Attributes {
  class: string | undefined;
  href: string | undefined;
  colspan: string | undefined;
  rowspan: string | undefined;
  start: string | undefined;
  type: string | undefined;
}
type AttributeName = keyof Attributes;
const noAttributes = (): Attributes => ({ class: undefined, href: undefined, colspan: undefined, rowspan: undefined, start: undefined, type: undefined });
const ATTRIBUTE_NAMES = new Set<string>(Object.keys(noAttributes()));

/** html-to-text's `.preheader`, as selderee matches a class: the attribute split on spaces and tabs. */
const isPreheader = (attribs: Attributes): boolean => {
  const classes = attribs.class;
  return classes !== undefined && classes.includes('preheader') && classes.split(/[ \t]+/).includes('preheader');
};

class TextPart {
  private readonly frames: Frame[] = [];
  private readonly boxes: Box[] = [new Box(WORDWRAP, 1)];
  private transforms: Transform[] = [];
  private rows: string[][] | undefined;
  private row: string[] | undefined;
  private pendingText = '';
  private body: 'before' | 'in' | 'after' = 'before';

  /** A fragment's elements go straight into a body that no tag opens or closes. */
  constructor(private readonly fragment: boolean) {
    if (fragment) this.open('body', noAttributes());
  }

  result(): string | undefined {
    // Unless the Reader's closes at the end already did: a tag cut off by the end of the input
    // (`<p` last) is closed without having been opened, one close more than opens.
    if (this.fragment && this.body === 'in') this.close();
    return this.body === 'after' ? this.boxes[0].text() : undefined;
  }

  open(name: string, attribs: Attributes): void {
    this.flush();
    const parent = this.frames.length ? this.frames[this.frames.length - 1] : undefined;
    const frame: Frame = { kind: Kind.Ignored, name, count: 0, href: '', text: '', prefix: '', ordered: false, nested: false, item: false };
    if (this.body !== 'in') {
      if (name === 'body') {
        if (this.body === 'after' || !this.frames.every((f) => f.name === 'html')) throw NOT_HANDLED;
        this.body = 'in';
        frame.kind = isPreheader(attribs) ? Kind.Ignored : Kind.Inline;
      }
    } else if (!parent || parent.kind === Kind.Ignored) {
      frame.kind = Kind.Ignored;
    } else if (parent.kind === Kind.Table || parent.kind === Kind.TableSection) {
      // formatDataTable walks only sections and rows, and in a row only its cells.
      if (name === 'tr') {
        frame.kind = Kind.Row;
        this.row = [];
      } else if (name === 'thead' || name === 'tbody' || name === 'tfoot' || name === 'center') {
        frame.kind = Kind.TableSection;
      }
    } else if (parent.kind === Kind.Row) {
      if (name === 'td' || name === 'th') {
        if ((attribs.colspan !== undefined && (+attribs.colspan || 1) !== 1) || (attribs.rowspan !== undefined && (+attribs.rowspan || 1) !== 1)) throw NOT_HANDLED;
        frame.kind = Kind.Cell;
        this.boxes.push(new Box(MAX_COLUMN_WIDTH, 1));
      }
    } else if (parent.kind === Kind.List) {
      if (name !== 'li') throw NOT_HANDLED;
      this.openListItem(parent, frame, attribs);
    } else {
      this.format(frame, parent, attribs);
    }
    this.frames.push(frame);
  }

  /** What html-to-text's picker chooses for an element in the flow of text, and the formatter's opening half. */
  private format(frame: Frame, parent: Frame, attribs: Attributes): void {
    const name = frame.name;
    // Skipped: a preheader and an image by `textOptions`; style and script are not elements to html-to-text's walk.
    if (isPreheader(attribs) || name === 'img' || name === 'style' || name === 'script') return;
    if (INLINE.has(name)) {
      frame.kind = Kind.Inline;
    } else if (name === 'p' || BLOCKS.has(name)) {
      frame.kind = Kind.Block;
      frame.count = name === 'p' ? 2 : 1;
      this.openBlock(frame.count);
    } else if (HEADINGS.has(name)) {
      frame.kind = Kind.Heading;
      this.openBlock(HEADINGS.get(name)!);
      this.transforms.push('upper');
    } else if (name === 'br') {
      frame.kind = Kind.Inline;
      this.top().inline.startNewLine();
    } else if (name === 'hr') {
      frame.kind = Kind.Block;
      frame.count = 2;
      this.openBlock(2);
      this.addInline('-'.repeat(WORDWRAP), false);
    } else if (name === 'a') {
      frame.kind = Kind.Anchor;
      const href = (attribs.href ?? '').replace(/^mailto:/, '');
      // No href, or an anchor on the page (noAnchorUrl): the link's text alone.
      if (href && href[0] !== '#') {
        frame.href = href;
        this.transforms.push(frame);
      }
    } else if (name === 'ul' || name === 'ol') {
      if (name === 'ol' && (attribs.start !== undefined || attribs.type !== undefined)) throw NOT_HANDLED;
      frame.kind = Kind.List;
      frame.ordered = name === 'ol';
      frame.nested = parent.name === 'li';
      frame.prefix = frame.nested ? '* ' : ' * ';
      this.boxes.push(new Box(this.top().inline.maxLineLength, frame.nested ? 1 : 2));
    } else if (name === 'table') {
      if (this.rows) throw NOT_HANDLED;
      frame.kind = Kind.Table;
      this.rows = [];
    } else {
      throw NOT_HANDLED;
    }
  }

  /**
   * formatList gives every child an item and pads prefixes to the longest: with items only,
   * and at most nine of them, every prefix is as long as the first.
   */
  private openListItem(list: Frame, frame: Frame, attribs: Attributes): void {
    if (++list.count > 9 && list.ordered) throw NOT_HANDLED;
    const prefix = list.ordered ? (list.nested ? `${list.count}. ` : ` ${list.count}. `) : list.prefix;
    this.boxes.push(new Box(Math.max(20, this.top().inline.maxLineLength - prefix.length), 1, prefix));
    frame.item = true;
    // The item's `li` goes through the picker like any element: inline, unless it is a preheader.
    frame.kind = isPreheader(attribs) ? Kind.Ignored : Kind.Inline;
  }

  close(): void {
    this.flush();
    const frame = this.frames.pop()!;
    if (frame.name === 'body' && this.body === 'in' && this.frames.every((f) => f.name === 'html')) this.body = 'after';
    switch (frame.kind) {
      case Kind.Block:
        this.closeBlock(frame.count);
        break;
      case Kind.Heading:
        this.transforms.pop();
        this.closeBlock(2);
        break;
      case Kind.Anchor:
        if (frame.href) {
          this.transforms.pop();
          if (frame.href !== frame.text) this.addInline(frame.text ? ' [' + frame.href + ']' : frame.href, true);
        }
        break;
      case Kind.List: {
        const list = this.boxes.pop()!;
        const text = list.text();
        if (text) this.top().addText(text, list.leadingLineBreaks, frame.nested ? 1 : 2);
        break;
      }
      case Kind.Row:
        this.rows!.push(this.row!);
        this.row = undefined;
        break;
      case Kind.Cell:
        this.row!.push(trimNewlines(this.boxes.pop()!.text()));
        break;
      case Kind.Table: {
        const output = tableToString(this.rows!);
        this.rows = undefined;
        if (output) this.top().addText(output, 2, 2);
        break;
      }
      default:
        break;
    }
    // An item's text, its prefix before the first line and as indent of the others.
    if (frame.item) {
      const item = this.boxes.pop()!;
      const text = item.prefix + item.text().replace(/\n/g, '\n' + ' '.repeat(item.prefix.length));
      this.top().addText(text, item.leadingLineBreaks, Math.max(item.stashedLineBreaks, 1));
    }
  }

  text(data: string): void {
    this.pendingText += data;
  }

  /** A comment, CDATA or doctype: a node of its own, which formatList would make an item of. */
  other(): void {
    this.flush();
    if (this.body === 'in' && this.frames[this.frames.length - 1].kind === Kind.List) throw NOT_HANDLED;
  }

  /** Text nodes as the DOM has them: consecutive text (entities included) is one node. */
  flush(): void {
    const text = this.pendingText;
    if (!text) return;
    this.pendingText = '';
    if (this.body !== 'in') return;
    const frame = this.frames[this.frames.length - 1];
    switch (frame.kind) {
      case Kind.Ignored:
      case Kind.Table:
      case Kind.TableSection:
      case Kind.Row:
        return;
      case Kind.List:
        if (!BLANK.test(text)) throw NOT_HANDLED;
        return;
      default:
        this.addInline(text, false);
    }
  }

  private top(): Box {
    return this.boxes[this.boxes.length - 1];
  }

  private openBlock(leadingLineBreaks: number): void {
    this.boxes.push(new Box(Math.max(20, this.top().inline.maxLineLength), leadingLineBreaks));
  }

  private closeBlock(trailingLineBreaks: number): void {
    const block = this.boxes.pop()!;
    this.top().addText(block.text(), block.leadingLineBreaks, Math.max(block.stashedLineBreaks, trailingLineBreaks));
  }

  /**
   * BlockTextBuilder's `addInline` and WhitespaceProcessor's `shrinkWrapAdd`, with words found
   * by a scan over the text rather than its regular expressions (the same whitespace).
   */
  private addInline(text: string, noWordTransform: boolean): void {
    const box = this.top();
    const length = text.length;
    let start = 0;
    while (start < length && isWhitespace(text.charCodeAt(start))) start++;
    if (box.stashedLineBreaks) {
      if (start === length) return;
      box.inline.startNewLine(box.stashedLineBreaks);
    }
    const inline = box.inline;
    const transforms = noWordTransform || !this.transforms.length ? undefined : this.transforms;
    const previouslyStashedSpace = inline.stashedSpace;
    let first = true;
    while (start < length) {
      let end = start + 1;
      while (end < length && !isWhitespace(text.charCodeAt(end))) end++;
      const found = text.substring(start, end);
      const word = transforms ? applyTransforms(found, transforms) : found;
      if (!first || previouslyStashedSpace || start > 0) inline.pushWord(word);
      else inline.concatWord(word);
      first = false;
      start = end + 1;
      while (start < length && isWhitespace(text.charCodeAt(start))) start++;
    }
    inline.stashedSpace = (previouslyStashedSpace && first) || isWhitespace(text.charCodeAt(length - 1));
    box.stashedLineBreaks = 0;
  }
}

/** html-to-text's `whitespaceCharacters`: space, tab, CR, LF, form feed and the zero-width space. */
const isWhitespace = (c: number): boolean => c === 32 || c === 10 || c === 9 || c === 13 || c === 12 || c === 0x200b;

function applyTransforms(word: string, transforms: Transform[]): string {
  for (let i = transforms.length - 1; i >= 0; i--) {
    const transform = transforms[i];
    if (transform === 'upper') word = word.toUpperCase();
    else transform.text += word;
  }
  return word;
}

/** html-to-text's `trimCharacter(text, '\n')`, which closeTableCell applies to a cell's text. */
function trimNewlines(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && text[start] === '\n') start++;
  while (end > start && text[end - 1] === '\n') end--;
  return start > 0 || end < text.length ? text.substring(start, end) : text;
}

/**
 * html-to-text's `tableToString` with rowSpacing 0, for rows of as many cells each, every cell
 * spanning one row and one column: a row is as tall as its tallest cell, a column starts two
 * spaces after the longest line of the one before, and a line is padded to each column it
 * reaches. (Its layout matrix decides the line breaks of ragged tables in ways of its own: those
 * are left to html-to-text.)
 */
function tableToString(rows: string[][]): string {
  if (!rows.length) return '';
  const columns = rows[0].length;
  const cells = rows.map((row) => {
    if (row.length !== columns || !columns) throw NOT_HANDLED;
    return row.map((text) => (text.includes('\n') ? text.split('\n') : [text]));
  });
  const offsets = [0];
  for (let x = 0; x < columns; x++) {
    let width = 0;
    for (const row of cells) for (const line of row[x]) if (line.length > width) width = line.length;
    offsets.push(offsets[x] + width + COL_SPACING);
  }
  const output: string[] = [];
  for (const row of cells) {
    let height = 0;
    for (const lines of row) if (lines.length > height) height = lines.length;
    for (let j = 0; j < height; j++) {
      let line = '';
      for (let x = 0; x < columns; x++) if (j < row[x].length) line = line.padEnd(offsets[x]) + row[x][j];
      output.push(line);
    }
  }
  return output.join('\n');
}

// htmlparser2's Parser (v10, and v8 alike): the elements a tag opens, closes or implies.
const P = new Set(['p']);
const FORM_TAGS = new Set(['input', 'option', 'optgroup', 'select', 'button', 'datalist', 'textarea']);
const TABLE_SECTIONS = new Set(['thead', 'tbody']);
const DD_DT = new Set(['dd', 'dt']);
const RT_RP = new Set(['rt', 'rp']);
const OPEN_IMPLIES_CLOSE = new Map<string, Set<string>>([
  ['tr', new Set(['tr', 'th', 'td'])],
  ['th', new Set(['th'])],
  ['td', new Set(['thead', 'th', 'td'])],
  ['body', new Set(['head', 'link', 'script'])],
  ['li', new Set(['li'])],
  ['select', FORM_TAGS],
  ['input', FORM_TAGS],
  ['output', FORM_TAGS],
  ['button', FORM_TAGS],
  ['datalist', FORM_TAGS],
  ['textarea', FORM_TAGS],
  ['option', new Set(['option'])],
  ['optgroup', new Set(['optgroup', 'option'])],
  ['dd', DD_DT],
  ['dt', DD_DT],
  ['rt', RT_RP],
  ['rp', RT_RP],
  ['tbody', TABLE_SECTIONS],
  ['tfoot', TABLE_SECTIONS],
  ...[
    'p', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'address', 'article', 'aside', 'blockquote', 'details', 'div', 'dl', 'fieldset', 'figcaption',
    'figure', 'footer', 'form', 'header', 'hr', 'main', 'nav', 'ol', 'pre', 'section', 'table', 'ul',
  ].map((name) => [name, P] as const),
]);
const VOID_ELEMENTS = new Set([
  'area', 'base', 'basefont', 'br', 'col', 'command', 'embed', 'frame', 'hr', 'img', 'input', 'isindex', 'keygen', 'link', 'meta', 'param',
  'source', 'track', 'wbr',
]);
/** Raw text in htmlparser2 10 but markup in 8 (textarea, xmp), or foreign content, where the Parser honours self-closing tags. */
const NOT_READ = new Set(['textarea', 'xmp', 'svg', 'math']);

/**
 * Elements from the tokenizer's tokens, as htmlparser2's Parser makes them in HTML mode: tag
 * and attribute names lowercased, the first of an attribute's values kept, the open elements a
 * tag implies closed closed first, void elements closed as they open, `</p>` and `</br>` with
 * no open element an empty paragraph and a line break, and what is open at the end closed.
 */
class Reader implements TokenizerCallbacks {
  private readonly stack: string[] = [];
  private tagname = '';
  private attribs = noAttributes();
  private attribname: AttributeName | undefined;
  private attribvalue = '';

  constructor(
    private readonly html: string,
    private readonly part: TextPart,
  ) {}

  ontext(start: number, endIndex: number): void {
    this.part.text(this.html.slice(start, endIndex));
  }

  ontextentity(codepoint: number): void {
    this.part.text(String.fromCodePoint(codepoint));
  }

  onopentagname(start: number, endIndex: number): void {
    const name = this.html.slice(start, endIndex).toLowerCase();
    if (NOT_READ.has(name)) throw NOT_HANDLED;
    this.emitOpenTag(name);
  }

  onopentagend(): void {
    this.endOpenTag();
  }

  onselfclosingtag(): void {
    this.endOpenTag();
  }

  onclosetag(start: number, endIndex: number): void {
    const name = this.html.slice(start, endIndex).toLowerCase();
    if (!VOID_ELEMENTS.has(name)) {
      const at = this.stack.lastIndexOf(name);
      if (at !== -1) {
        while (this.stack.length > at) this.closeElement();
      } else if (name === 'p') {
        this.emitOpenTag('p');
        this.endOpenTag();
        this.closeElement();
      }
    } else if (name === 'br') {
      this.part.open('br', noAttributes());
      this.part.close();
    }
  }

  onattribname(start: number, endIndex: number): void {
    const length = endIndex - start;
    const name = length === 4 || length === 5 || length === 7 ? this.html.slice(start, endIndex).toLowerCase() : '';
    this.attribname = ATTRIBUTE_NAMES.has(name) ? (name as AttributeName) : undefined;
  }

  onattribdata(start: number, endIndex: number): void {
    if (this.attribname) this.attribvalue += this.html.slice(start, endIndex);
  }

  onattribentity(codepoint: number): void {
    if (this.attribname) this.attribvalue += String.fromCodePoint(codepoint);
  }

  onattribend(): void {
    if (this.attribname && this.attribs[this.attribname] === undefined) this.attribs[this.attribname] = this.attribvalue;
    this.attribvalue = '';
  }

  oncomment(): void {
    this.part.other();
  }

  oncdata(): void {
    this.part.other();
  }

  ondeclaration(): void {
    this.part.other();
  }

  onprocessinginstruction(): void {
    this.part.other();
  }

  onend(): void {
    while (this.stack.length) this.closeElement();
  }

  private emitOpenTag(name: string): void {
    const impliesClose = OPEN_IMPLIES_CLOSE.get(name);
    if (impliesClose) {
      while (this.stack.length && impliesClose.has(this.stack[this.stack.length - 1])) this.closeElement();
    }
    if (!VOID_ELEMENTS.has(name)) this.stack.push(name);
    this.tagname = name;
    this.attribs = noAttributes();
  }

  private endOpenTag(): void {
    this.part.open(this.tagname, this.attribs);
    if (VOID_ELEMENTS.has(this.tagname)) this.part.close();
    this.tagname = '';
  }

  private closeElement(): void {
    this.stack.pop();
    this.part.close();
  }
}

/** Whether any `&` starts a reference without its semicolon (a bare `&` before a space or a digit is read alike). */
function hasOpenReference(html: string): boolean {
  for (let at = html.indexOf('&'); at !== -1; at = html.indexOf('&', at + 1)) {
    OPEN_REFERENCE.lastIndex = at + 1;
    if (OPEN_REFERENCE.test(html)) return true;
  }
  return false;
}

/**
 * The text part of `html` as html-to-text writes it with `textOptions` (before templates.ts
 * trims it and collapses blank lines), or undefined when the document is outside the subset
 * written here and html-to-text is to convert it.
 */
export function fastTextPart(html: string): string | undefined {
  if (html.length > MAX_INPUT_LENGTH || hasOpenReference(html)) return undefined;
  const part = new TextPart(!DOCUMENT_TAG.test(html));
  const tokenizer = new Tokenizer({ decodeEntities: true }, new Reader(html, part));
  try {
    tokenizer.write(html);
    tokenizer.end();
  } catch {
    // NOT_HANDLED, or a document this code gets wrong in a way of its own: html-to-text converts it.
    return undefined;
  }
  part.flush();
  return part.result();
}
