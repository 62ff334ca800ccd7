/** AST of the SQL subset the TDengine REST test server executes. */
import type { DataType } from '../engine/types.ts';

/** `[db.]name`; names already case-folded (unquoted → lower case, `quoted` kept). */
export interface QName {
  readonly db: string | undefined;
  readonly name: string;
}

export type LiteralType = 'int' | 'float' | 'string' | 'bool' | 'null' | 'now' | 'today' | 'duration';

export interface Literal {
  readonly k: 'lit';
  readonly t: LiteralType;
  /** int/float: the exact source text incl. sign; string: decoded value; bool: 'true'|'false';
   *  duration: number text; now/today/null: ''. */
  readonly text: string;
  /** duration unit (b u a s m h d w n y) */
  readonly unit?: string;
}

export interface ColumnRef {
  readonly k: 'col';
  readonly qualifier: string | undefined;
  readonly name: string;
}

export interface FuncCall {
  readonly k: 'func';
  /** lower-case function name */
  readonly name: string;
  readonly args: readonly Expr[];
  /** `count(*)` */
  readonly star: boolean;
}

export interface Binary {
  readonly k: 'bin';
  readonly op: '+' | '-' | '*' | '/' | '%' | '=' | '!=' | '<' | '<=' | '>' | '>=' | 'and' | 'or';
  readonly left: Expr;
  readonly right: Expr;
}

export interface Unary {
  readonly k: 'not' | 'neg';
  readonly expr: Expr;
}

export interface IsNull {
  readonly k: 'isnull';
  readonly expr: Expr;
  readonly not: boolean;
}

export interface InList {
  readonly k: 'in';
  readonly expr: Expr;
  readonly list: readonly Expr[];
  readonly not: boolean;
}

export interface Between {
  readonly k: 'between';
  readonly expr: Expr;
  readonly lo: Expr;
  readonly hi: Expr;
  readonly not: boolean;
}

export interface Like {
  readonly k: 'like';
  readonly expr: Expr;
  readonly pattern: Expr;
  readonly not: boolean;
}

export type Expr = Literal | ColumnRef | FuncCall | Binary | Unary | IsNull | InList | Between | Like;

export type SelectItem =
  | { readonly k: 'star'; readonly qualifier: string | undefined }
  | { readonly k: 'expr'; readonly expr: Expr; readonly alias: string | undefined; readonly text: string };

export interface OrderItem {
  readonly expr: Expr;
  readonly desc: boolean;
}

export interface SelectStmt {
  readonly kind: 'select';
  readonly distinct: boolean;
  /** `SELECT TAGS ...`: one row per child table */
  readonly tags: boolean;
  readonly items: readonly SelectItem[];
  readonly from: { readonly table: QName; readonly alias: string | undefined } | undefined;
  readonly where: Expr | undefined;
  /** PARTITION BY / GROUP BY expressions */
  readonly partitionBy: readonly Expr[];
  readonly orderBy: readonly OrderItem[];
  readonly limit: number | undefined;
  readonly offset: number;
}

export interface DbOption {
  /** upper-case option name */
  readonly name: string;
  readonly values: readonly Literal[];
}

export interface ColumnSpec {
  readonly name: string;
  readonly type: DataType;
}

export interface TableOptions {
  readonly comment: string | undefined;
  readonly ttl: number | undefined;
}

export interface ChildTableSpec {
  readonly name: QName;
  readonly ifNotExists: boolean;
  readonly stable: QName;
  readonly tagNames: readonly string[] | undefined;
  readonly tagValues: readonly Expr[];
  readonly options: TableOptions;
}

export interface InsertItem {
  readonly table: QName;
  readonly using:
    { readonly stable: QName; readonly tagNames: readonly string[] | undefined; readonly tagValues: readonly Expr[] } | undefined;
  /** explicit column list (may contain `tbname` and tag names in the super-table form) */
  readonly columns: readonly string[] | undefined;
  /** VALUES rows, parsed lazily as they are iterated (once, before the next item). */
  readonly rows: Iterable<readonly Expr[]>;
}

export type Statement =
  | { readonly kind: 'createDatabase'; readonly name: string; readonly ifNotExists: boolean; readonly options: readonly DbOption[] }
  | { readonly kind: 'dropDatabase'; readonly name: string; readonly ifExists: boolean }
  | { readonly kind: 'use'; readonly name: string }
  | {
      readonly kind: 'createStable';
      readonly name: QName;
      readonly ifNotExists: boolean;
      readonly columns: readonly ColumnSpec[];
      readonly tags: readonly ColumnSpec[];
      readonly options: TableOptions;
    }
  | {
      readonly kind: 'createTable';
      readonly name: QName;
      readonly ifNotExists: boolean;
      readonly columns: readonly ColumnSpec[];
      readonly options: TableOptions;
    }
  | { readonly kind: 'createChildTables'; readonly items: readonly ChildTableSpec[] }
  | { readonly kind: 'dropTables'; readonly items: readonly { readonly name: QName; readonly ifExists: boolean }[] }
  | { readonly kind: 'dropStable'; readonly ifExists: boolean; readonly name: QName }
  | {
      readonly kind: 'insert';
      /**
       * Parsed lazily, one `tb [USING ...] VALUES ...` group at a time, so a 1 MiB INSERT
       * never exists as one AST; syntax errors further down surface while iterating.
       * Can be iterated once.
       */
      readonly items: Iterable<InsertItem>;
    }
  | { readonly kind: 'delete'; readonly table: QName; readonly where: Expr | undefined }
  | SelectStmt
  | { readonly kind: 'showDatabases' }
  | { readonly kind: 'showStables'; readonly db: string | undefined; readonly like: string | undefined }
  | {
      readonly kind: 'showTables';
      readonly db: string | undefined;
      readonly like: string | undefined;
      readonly filter: 'all' | 'normal' | 'child';
    }
  | { readonly kind: 'showCreateDatabase'; readonly name: string }
  | { readonly kind: 'showCreateStable'; readonly name: QName }
  | { readonly kind: 'showCreateTable'; readonly name: QName }
  | { readonly kind: 'showTableTags'; readonly table: QName; readonly tagNames: readonly string[] | undefined }
  | { readonly kind: 'showTags'; readonly table: QName }
  | { readonly kind: 'describe'; readonly name: QName };

export type StatementKind = Statement['kind'];
