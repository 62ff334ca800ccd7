/**
 * Recursive-descent parser for exactly the statement forms the TDengine REST test server
 * supports (see README). Anything else is a TDengine syntax error (0x2600,
 * `syntax error near "<rest of the statement>"`).
 */
import { TaosCode, TaosError } from '../protocol/errors.ts';
import { dataType, MAX_BINARY_LEN, MAX_NCHAR_LEN, type DataType } from '../engine/types.ts';
import { Lexer, Tok } from './lexer.ts';
import type {
  ChildTableSpec,
  ColumnSpec,
  DbOption,
  Expr,
  InsertItem,
  Literal,
  OrderItem,
  QName,
  SelectItem,
  SelectStmt,
  Statement,
  TableOptions,
} from './ast.ts';

/** Words that end a select item / table reference instead of being an implicit alias. */
const CLAUSE_WORDS = new Set([
  'FROM',
  'WHERE',
  'PARTITION',
  'GROUP',
  'ORDER',
  'LIMIT',
  'SLIMIT',
  'OFFSET',
  'SOFFSET',
  'INTERVAL',
  'HAVING',
  'FILL',
  'UNION',
  'AS',
  'AND',
  'OR',
  'ASC',
  'DESC',
]);

/** Keywords that cannot be unquoted column names (a subset of TDengine's reserved words). */
const RESERVED = new Set([
  ...CLAUSE_WORDS,
  'SELECT',
  'NOT',
  'BY',
  'INSERT',
  'INTO',
  'VALUES',
  'USING',
  'IS',
  'IN',
  'BETWEEN',
  'LIKE',
  'CREATE',
  'DROP',
  'TABLE',
  'STABLE',
  'DATABASE',
  'SHOW',
  'DESCRIBE',
  'DELETE',
  'DISTINCT',
]);

export function parseSql(sql: Buffer | string): Statement {
  const buf = typeof sql === 'string' ? Buffer.from(sql, 'utf8') : sql;
  return new Parser(buf).parseStatement();
}

class Parser {
  private readonly lex: Lexer;
  private prevEnd = 0;

  constructor(buf: Buffer) {
    this.lex = new Lexer(buf);
  }

  // ---- token helpers -------------------------------------------------------

  private advance(): void {
    this.prevEnd = this.lex.end;
    this.lex.next();
  }

  private kw(word: string): boolean {
    if (this.lex.isKw(word)) {
      this.advance();
      return true;
    }
    return false;
  }

  private expectKw(word: string): void {
    if (!this.kw(word)) this.lex.error();
  }

  private op(o: string): boolean {
    if (this.lex.isOp(o)) {
      this.advance();
      return true;
    }
    return false;
  }

  private expectOp(o: string): void {
    if (!this.op(o)) this.lex.error();
  }

  /** An identifier: unquoted ones are case-folded to lower case. */
  private ident(): string {
    const l = this.lex;
    if (l.kind === Tok.Ident) {
      const s = l.text().toLowerCase();
      this.advance();
      return s;
    }
    if (l.kind === Tok.QIdent) {
      const s = l.str;
      this.advance();
      return s;
    }
    return l.error();
  }

  private isIdent(): boolean {
    return this.lex.kind === Tok.Ident || this.lex.kind === Tok.QIdent;
  }

  private qname(): QName {
    const first = this.ident();
    if (this.op('.')) return { db: first, name: this.ident() };
    return { db: undefined, name: first };
  }

  private intLiteral(): number {
    const l = this.lex;
    let neg = false;
    if (l.isOp('-')) {
      neg = true;
      this.advance();
    }
    if (l.kind !== Tok.Num || l.isFloat) l.error();
    const v = Number(l.text());
    if (!Number.isSafeInteger(v)) l.error();
    this.advance();
    return neg ? -v : v;
  }

  private stringLiteral(): string {
    const l = this.lex;
    if (l.kind !== Tok.Str) l.error();
    const s = l.str;
    this.advance();
    return s;
  }

  private nameList(): string[] {
    this.expectOp('(');
    const out = [this.ident()];
    while (this.op(',')) out.push(this.ident());
    this.expectOp(')');
    return out;
  }

  private exprList(): Expr[] {
    this.expectOp('(');
    const out = [this.expr()];
    while (this.op(',')) out.push(this.expr());
    this.expectOp(')');
    return out;
  }

  private ifNotExists(): boolean {
    if (this.lex.isKw('IF')) {
      this.advance();
      this.expectKw('NOT');
      this.expectKw('EXISTS');
      return true;
    }
    return false;
  }

  private ifExists(): boolean {
    if (this.lex.isKw('IF')) {
      this.advance();
      this.expectKw('EXISTS');
      return true;
    }
    return false;
  }

  // ---- statements ----------------------------------------------------------

  parseStatement(): Statement {
    const l = this.lex;
    let stmt: Statement;
    if (this.kw('SELECT')) stmt = this.select();
    else if (this.kw('INSERT')) return this.insert();
    else if (this.kw('CREATE')) stmt = this.create();
    else if (this.kw('DROP')) stmt = this.drop();
    else if (this.kw('USE')) stmt = { kind: 'use', name: this.ident() };
    else if (this.kw('SHOW')) stmt = this.show();
    else if (this.kw('DESCRIBE') || this.kw('DESC')) stmt = { kind: 'describe', name: this.qname() };
    else if (this.kw('DELETE')) stmt = this.delete();
    else return l.error();
    this.op(';');
    if (l.kind !== Tok.EOF) l.error();
    return stmt;
  }

  private create(): Statement {
    if (this.kw('DATABASE')) {
      const ifNotExists = this.ifNotExists();
      const name = this.ident();
      return { kind: 'createDatabase', name, ifNotExists, options: this.dbOptions() };
    }
    if (this.kw('STABLE')) {
      const ifNotExists = this.ifNotExists();
      const name = this.qname();
      const columns = this.columnSpecs();
      this.expectKw('TAGS');
      const tags = this.columnSpecs();
      return { kind: 'createStable', name, ifNotExists, columns, tags, options: this.tableOptions() };
    }
    if (this.kw('TABLE')) {
      let ifNotExists = this.ifNotExists();
      const name = this.qname();
      if (this.lex.isKw('USING')) {
        const items: ChildTableSpec[] = [];
        let current = name;
        for (;;) {
          items.push(this.childTableSpec(current, ifNotExists));
          if (!this.isIdent()) break;
          ifNotExists = this.ifNotExists();
          current = this.qname();
        }
        return { kind: 'createChildTables', items };
      }
      const columns = this.columnSpecs();
      if (this.kw('TAGS')) {
        const tags = this.columnSpecs();
        return { kind: 'createStable', name, ifNotExists, columns, tags, options: this.tableOptions() };
      }
      return { kind: 'createTable', name, ifNotExists, columns, options: this.tableOptions() };
    }
    return this.lex.error();
  }

  private childTableSpec(name: QName, ifNotExists: boolean): ChildTableSpec {
    this.expectKw('USING');
    const stable = this.qname();
    const tagNames = this.lex.isOp('(') ? this.nameList() : undefined;
    this.expectKw('TAGS');
    const tagValues = this.exprList();
    return { name, ifNotExists, stable, tagNames, tagValues, options: this.tableOptions() };
  }

  private dbOptions(): DbOption[] {
    const out: DbOption[] = [];
    while (this.lex.kind === Tok.Ident) {
      const name = this.lex.text().toUpperCase();
      this.advance();
      const values: Literal[] = [];
      if (name === 'RETENTIONS') {
        do values.push(this.retentionItem());
        while (this.op(','));
      } else {
        do values.push(this.optionValue());
        while (this.op(','));
      }
      out.push({ name, values });
    }
    return out;
  }

  private retentionItem(): Literal {
    const start = this.lex.start;
    if (!this.op('-')) this.durationLiteral();
    this.expectOp(':');
    this.durationLiteral();
    return { k: 'lit', t: 'string', text: this.lex.buf.toString('utf8', start, this.prevEnd) };
  }

  private durationLiteral(): Literal {
    const l = this.lex;
    if (l.kind !== Tok.Dur) l.error();
    const lit: Literal = { k: 'lit', t: 'duration', text: l.durNumberText(), unit: l.durUnit };
    this.advance();
    return lit;
  }

  private optionValue(): Literal {
    const l = this.lex;
    if (l.kind === Tok.Dur) return this.durationLiteral();
    if (l.kind === Tok.Str) return { k: 'lit', t: 'string', text: this.stringLiteral() };
    if (l.kind === Tok.Num || l.isOp('-')) {
      const neg = this.op('-');
      if (l.kind !== Tok.Num) l.error();
      const lit: Literal = { k: 'lit', t: l.isFloat ? 'float' : 'int', text: (neg ? '-' : '') + l.text() };
      this.advance();
      return lit;
    }
    if (l.kind === Tok.Ident) {
      // bare words, e.g. CACHEMODEL last_row
      return { k: 'lit', t: 'string', text: this.ident() };
    }
    return l.error();
  }

  private columnSpecs(): ColumnSpec[] {
    this.expectOp('(');
    const out: ColumnSpec[] = [];
    do {
      const name = this.ident();
      const type = this.dataType();
      this.columnOptions();
      out.push({ name, type });
    } while (this.op(','));
    this.expectOp(')');
    return out;
  }

  /** Column options accepted and ignored: ENCODE/COMPRESS/LEVEL '...' (3.3+), COMMENT '...'. */
  private columnOptions(): void {
    for (;;) {
      if (this.kw('ENCODE') || this.kw('COMPRESS') || this.kw('LEVEL') || this.kw('COMMENT')) {
        this.stringLiteral();
        continue;
      }
      if (this.lex.isKw('PRIMARY')) {
        throw new TaosError(TaosCode.OPS_NOT_SUPPORT, 'composite PRIMARY KEY is not supported by the TDengine test server');
      }
      return;
    }
  }

  private parenInt(): number {
    this.expectOp('(');
    const n = this.intLiteral();
    this.expectOp(')');
    return n;
  }

  private dataType(): DataType {
    const l = this.lex;
    if (l.kind !== Tok.Ident) l.error();
    const start = l.start;
    const word = l.text().toUpperCase();
    this.advance();
    const unsigned = (base: 'TINYINT' | 'SMALLINT' | 'INT' | 'BIGINT'): DataType =>
      this.kw('UNSIGNED') ? dataType(`${base} UNSIGNED`) : dataType(base);
    switch (word) {
      case 'TIMESTAMP':
        return dataType('TIMESTAMP');
      case 'BOOL':
      case 'BOOLEAN':
        return dataType('BOOL');
      case 'TINYINT':
        return unsigned('TINYINT');
      case 'SMALLINT':
        return unsigned('SMALLINT');
      case 'INT':
      case 'INTEGER':
        return unsigned('INT');
      case 'BIGINT':
        return unsigned('BIGINT');
      case 'FLOAT':
        return dataType('FLOAT');
      case 'DOUBLE':
        return dataType('DOUBLE');
      case 'BINARY':
      case 'VARCHAR':
        return varLength('VARCHAR', this.parenInt(), MAX_BINARY_LEN);
      case 'NCHAR':
        return varLength('NCHAR', this.parenInt(), MAX_NCHAR_LEN);
      case 'VARBINARY':
        return varLength('VARBINARY', this.parenInt(), MAX_BINARY_LEN);
      case 'GEOMETRY':
        return varLength('GEOMETRY', this.parenInt(), MAX_BINARY_LEN);
      case 'JSON':
        return dataType('JSON');
      case 'BLOB':
        return dataType('BLOB');
      case 'DECIMAL': {
        this.expectOp('(');
        const p = this.intLiteral();
        const s = this.op(',') ? this.intLiteral() : 0;
        this.expectOp(')');
        if (p < 1 || p > 38 || s < 0 || s > p) {
          throw new TaosError(TaosCode.PAR_SYNTAX_ERROR, `syntax error near "decimal(${p},${s})" (invalid decimal precision or scale)`);
        }
        return dataType('DECIMAL', p, s);
      }
      default:
        l.restore(start);
        return l.error();
    }
  }

  private tableOptions(): TableOptions {
    let comment: string | undefined;
    let ttl: number | undefined;
    for (;;) {
      if (this.kw('COMMENT')) comment = this.stringLiteral();
      else if (this.kw('TTL')) ttl = this.intLiteral();
      else if (this.kw('WATERMARK') || this.kw('MAX_DELAY') || this.kw('DELETE_MARK')) {
        do this.durationLiteral();
        while (this.op(','));
      } else if (this.kw('SMA')) this.nameList();
      else return { comment, ttl };
    }
  }

  private drop(): Statement {
    if (this.kw('DATABASE')) {
      const ifExists = this.ifExists();
      return { kind: 'dropDatabase', name: this.ident(), ifExists };
    }
    if (this.kw('STABLE')) {
      const ifExists = this.ifExists();
      return { kind: 'dropStable', name: this.qname(), ifExists };
    }
    if (this.kw('TABLE')) {
      const items: { name: QName; ifExists: boolean }[] = [];
      do {
        const ifExists = this.ifExists();
        items.push({ name: this.qname(), ifExists });
      } while (this.op(','));
      return { kind: 'dropTables', items };
    }
    return this.lex.error();
  }

  private delete(): Statement {
    this.expectKw('FROM');
    const table = this.qname();
    const where = this.kw('WHERE') ? this.expr() : undefined;
    return { kind: 'delete', table, where };
  }

  private show(): Statement {
    const l = this.lex;
    if (this.kw('DATABASES')) return { kind: 'showDatabases' };
    if (l.isKw('USER') || l.isKw('SYSTEM')) {
      this.advance();
      this.expectKw('DATABASES');
      return { kind: 'showDatabases' };
    }
    if (this.kw('CREATE')) {
      if (this.kw('DATABASE')) return { kind: 'showCreateDatabase', name: this.ident() };
      if (this.kw('STABLE')) return { kind: 'showCreateStable', name: this.qname() };
      if (this.kw('TABLE')) return { kind: 'showCreateTable', name: this.qname() };
      return l.error();
    }
    if (this.kw('TABLE')) {
      this.expectKw('TAGS');
      let tagNames: string[] | undefined;
      if (!l.isKw('FROM')) {
        tagNames = [this.ident()];
        while (this.op(',')) tagNames.push(this.ident());
      }
      this.expectKw('FROM');
      return { kind: 'showTableTags', table: this.tableWithFromDb(), tagNames };
    }
    if (this.kw('TAGS')) {
      this.expectKw('FROM');
      return { kind: 'showTags', table: this.tableWithFromDb() };
    }
    let filter: 'all' | 'normal' | 'child' = 'all';
    if (this.kw('NORMAL')) filter = 'normal';
    else if (this.kw('CHILD')) filter = 'child';
    let db: string | undefined;
    if (!l.isKw('TABLES') && !l.isKw('STABLES')) {
      db = this.ident();
      this.expectOp('.');
    }
    if (this.kw('STABLES')) {
      if (filter !== 'all') l.error();
      return { kind: 'showStables', db, like: this.likeClause() };
    }
    this.expectKw('TABLES');
    return { kind: 'showTables', db, like: this.likeClause(), filter };
  }

  /** `tb [FROM db]` as in SHOW TAGS FROM tb FROM db. */
  private tableWithFromDb(): QName {
    const q = this.qname();
    if (this.kw('FROM')) return { db: this.ident(), name: q.name };
    return q;
  }

  private likeClause(): string | undefined {
    return this.kw('LIKE') ? this.stringLiteral() : undefined;
  }

  // ---- INSERT --------------------------------------------------------------

  private insert(): Statement {
    this.expectKw('INTO');
    if (!this.isIdent()) this.lex.error();
    return { kind: 'insert', items: this.insertItems() };
  }

  private *insertItems(): Generator<InsertItem> {
    do {
      const item = this.insertItem();
      yield item;
      // the consumer may not have read every row: the lexer must get past them
      for (const row of item.rows) void row;
    } while (this.isIdent());
    this.op(';');
    if (this.lex.kind !== Tok.EOF) this.lex.error();
  }

  private *valueRows(): Generator<Expr[]> {
    do {
      yield this.valueRow();
      this.op(',');
    } while (this.lex.isOp('('));
  }

  private insertItem(): InsertItem {
    const table = this.qname();
    let using: InsertItem['using'];
    if (this.kw('USING')) {
      const stable = this.qname();
      const tagNames = this.lex.isOp('(') ? this.nameList() : undefined;
      this.expectKw('TAGS');
      using = { stable, tagNames, tagValues: this.exprList() };
    }
    const columns = this.lex.isOp('(') ? this.nameList() : undefined;
    if (this.lex.isKw('FILE')) {
      throw new TaosError(TaosCode.OPS_NOT_SUPPORT, 'INSERT ... FILE is not supported by the TDengine test server');
    }
    this.expectKw('VALUES');
    if (!this.lex.isOp('(')) this.lex.error();
    const gen = this.valueRows();
    let done = false;
    // one pass only; a second iteration (the drain above) sees what is left
    const rows: Iterable<Expr[]> = {
      [Symbol.iterator]: () => ({
        next: (): IteratorResult<Expr[]> => {
          if (done) return { done: true, value: undefined };
          const r = gen.next();
          if (r.done) done = true;
          return r;
        },
      }),
    };
    return { table, using, columns, rows };
  }

  /** `( v, v, ... )` with a fast path for plain literals, the common case by far. */
  private valueRow(): Expr[] {
    const l = this.lex;
    this.expectOp('(');
    const row: Expr[] = [];
    for (;;) {
      let lit: Literal | undefined;
      const mark = l.save();
      if (l.kind === Tok.Num) lit = { k: 'lit', t: l.isFloat ? 'float' : 'int', text: l.text() };
      else if (l.kind === Tok.Str) lit = { k: 'lit', t: 'string', text: l.str };
      if (lit !== undefined) {
        this.advance();
        if (l.kind === Tok.Op && (l.op === ',' || l.op === ')')) row.push(lit);
        else {
          l.restore(mark);
          row.push(this.expr());
        }
      } else row.push(this.expr());
      if (this.op(',')) continue;
      this.expectOp(')');
      return row;
    }
  }

  // ---- SELECT --------------------------------------------------------------

  private select(): SelectStmt {
    const l = this.lex;
    let distinct = false;
    let tags = false;
    if (this.kw('DISTINCT')) distinct = true;
    else if (l.isKw('TAGS')) {
      const mark = l.save();
      this.advance();
      if (l.kind === Tok.EOF || l.isOp(',') || l.isKw('FROM') || l.isKw('AS')) l.restore(mark);
      else tags = true;
    }
    const items: SelectItem[] = [];
    do items.push(this.selectItem());
    while (this.op(','));
    let from: SelectStmt['from'];
    if (this.kw('FROM')) {
      const table = this.qname();
      let alias: string | undefined;
      if (this.kw('AS')) alias = this.ident();
      else if (this.isIdent() && !this.isClauseWord()) alias = this.ident();
      from = { table, alias };
    }
    const where = this.kw('WHERE') ? this.expr() : undefined;
    let partitionBy: Expr[] = [];
    if (this.kw('PARTITION') || this.kw('GROUP')) {
      this.expectKw('BY');
      partitionBy = [this.expr()];
      while (this.op(',')) partitionBy.push(this.expr());
    }
    const orderBy: OrderItem[] = [];
    if (this.kw('ORDER')) {
      this.expectKw('BY');
      do {
        const expr = this.expr();
        let desc = false;
        if (this.kw('DESC')) desc = true;
        else this.kw('ASC');
        if (this.kw('NULLS')) {
          if (!this.kw('FIRST')) this.expectKw('LAST');
        }
        orderBy.push({ expr, desc });
      } while (this.op(','));
    }
    let limit: number | undefined;
    let offset = 0;
    if (this.kw('LIMIT')) {
      const a = this.nonNegativeInt();
      if (this.op(',')) {
        offset = a;
        limit = this.nonNegativeInt();
      } else {
        limit = a;
        if (this.kw('OFFSET')) offset = this.nonNegativeInt();
      }
    }
    return { kind: 'select', distinct, tags, items, from, where, partitionBy, orderBy, limit, offset };
  }

  private nonNegativeInt(): number {
    const l = this.lex;
    if (l.kind !== Tok.Num || l.isFloat) l.error();
    const v = Number(l.text());
    if (!Number.isSafeInteger(v) || v < 0) l.error();
    this.advance();
    return v;
  }

  private isClauseWord(): boolean {
    const l = this.lex;
    return l.kind === Tok.Ident && CLAUSE_WORDS.has(l.text().toUpperCase());
  }

  private selectItem(): SelectItem {
    const l = this.lex;
    if (this.op('*')) return { k: 'star', qualifier: undefined };
    if (this.isIdent()) {
      const mark = l.save();
      const q = this.ident();
      if (this.op('.') && this.op('*')) return { k: 'star', qualifier: q };
      l.restore(mark);
    }
    const start = l.start;
    const expr = this.expr();
    const text = l.buf.toString('utf8', start, this.prevEnd);
    let alias: string | undefined;
    if (this.kw('AS')) alias = this.ident();
    else if (this.isIdent() && !this.isClauseWord()) alias = this.ident();
    return { k: 'expr', expr, alias, text };
  }

  // ---- expressions ---------------------------------------------------------

  expr(): Expr {
    return this.orExpr();
  }

  private orExpr(): Expr {
    let left = this.andExpr();
    while (this.kw('OR')) left = { k: 'bin', op: 'or', left, right: this.andExpr() };
    return left;
  }

  private andExpr(): Expr {
    let left = this.notExpr();
    while (this.kw('AND')) left = { k: 'bin', op: 'and', left, right: this.notExpr() };
    return left;
  }

  private notExpr(): Expr {
    if (this.kw('NOT')) return { k: 'not', expr: this.notExpr() };
    return this.predicate();
  }

  private predicate(): Expr {
    const l = this.lex;
    const left = this.additive();
    if (l.kind === Tok.Op) {
      const o = l.op;
      if (o === '=' || o === '!=' || o === '<>' || o === '<' || o === '<=' || o === '>' || o === '>=') {
        this.advance();
        return { k: 'bin', op: o === '<>' ? '!=' : o, left, right: this.additive() };
      }
      if (o === '->') {
        throw new TaosError(TaosCode.OPS_NOT_SUPPORT, 'the JSON -> operator is not supported by the TDengine test server');
      }
      return left;
    }
    if (this.kw('IS')) {
      const not = this.kw('NOT');
      this.expectKw('NULL');
      return { k: 'isnull', expr: left, not };
    }
    const not = this.kw('NOT');
    if (this.kw('IN')) return { k: 'in', expr: left, list: this.exprList(), not };
    if (this.kw('BETWEEN')) {
      const lo = this.additive();
      this.expectKw('AND');
      return { k: 'between', expr: left, lo, hi: this.additive(), not };
    }
    if (this.kw('LIKE')) return { k: 'like', expr: left, pattern: this.additive(), not };
    if (not) l.error();
    return left;
  }

  private additive(): Expr {
    let left = this.multiplicative();
    for (;;) {
      if (this.op('+')) left = { k: 'bin', op: '+', left, right: this.multiplicative() };
      else if (this.op('-')) left = { k: 'bin', op: '-', left, right: this.multiplicative() };
      else return left;
    }
  }

  private multiplicative(): Expr {
    let left = this.unary();
    for (;;) {
      if (this.op('*')) left = { k: 'bin', op: '*', left, right: this.unary() };
      else if (this.op('/')) left = { k: 'bin', op: '/', left, right: this.unary() };
      else if (this.op('%')) left = { k: 'bin', op: '%', left, right: this.unary() };
      else return left;
    }
  }

  private unary(): Expr {
    const l = this.lex;
    if (l.isOp('-') || l.isOp('+')) {
      const neg = l.op === '-';
      this.advance();
      if (l.kind === Tok.Num) {
        const lit: Literal = { k: 'lit', t: l.isFloat ? 'float' : 'int', text: (neg ? '-' : '') + l.text() };
        this.advance();
        return lit;
      }
      const inner = this.unary();
      return neg ? { k: 'neg', expr: inner } : inner;
    }
    return this.primary();
  }

  private primary(): Expr {
    const l = this.lex;
    switch (l.kind) {
      case Tok.Num: {
        const lit: Literal = { k: 'lit', t: l.isFloat ? 'float' : 'int', text: l.text() };
        this.advance();
        return lit;
      }
      case Tok.Str: {
        const lit: Literal = { k: 'lit', t: 'string', text: l.str };
        this.advance();
        return lit;
      }
      case Tok.Dur:
        return this.durationLiteral();
      case Tok.Op:
        if (this.op('(')) {
          const e = this.expr();
          this.expectOp(')');
          return e;
        }
        return l.error();
      case Tok.QIdent:
        return this.columnRef();
      case Tok.Ident: {
        if (this.kw('NULL')) return { k: 'lit', t: 'null', text: '' };
        if (this.kw('TRUE')) return { k: 'lit', t: 'bool', text: 'true' };
        if (this.kw('FALSE')) return { k: 'lit', t: 'bool', text: 'false' };
        if (l.isKw('NOW') || l.isKw('TODAY')) {
          const t = l.isKw('NOW') ? 'now' : 'today';
          this.advance();
          if (this.op('(')) this.expectOp(')');
          return { k: 'lit', t, text: '' };
        }
        const mark = l.save();
        const name = this.ident();
        if (this.op('(')) return this.funcCall(name);
        l.restore(mark);
        return this.columnRef();
      }
      case Tok.EOF:
        return l.error();
    }
  }

  private funcCall(name: string): Expr {
    if (this.op('*')) {
      this.expectOp(')');
      return { k: 'func', name, args: [], star: true };
    }
    const args: Expr[] = [];
    if (!this.op(')')) {
      do args.push(this.expr());
      while (this.op(','));
      this.expectOp(')');
    }
    return { k: 'func', name, args, star: false };
  }

  private columnRef(): Expr {
    const l = this.lex;
    if (l.kind === Tok.Ident && RESERVED.has(l.text().toUpperCase())) l.error();
    const a = this.ident();
    if (!this.op('.')) return { k: 'col', qualifier: undefined, name: a };
    const b = this.ident();
    if (!this.op('.')) return { k: 'col', qualifier: a, name: b };
    const c = this.ident();
    return { k: 'col', qualifier: b, name: c };
  }
}

function varLength(name: 'VARCHAR' | 'NCHAR' | 'VARBINARY' | 'GEOMETRY', n: number, max: number): DataType {
  if (n < 1 || n > max) throw new TaosError(TaosCode.PAR_INVALID_VAR_COLUMN_LEN);
  return dataType(name, n);
}
