/**
 * TDengine error codes emulated by the TDengine REST **test** server, and the one place
 * that builds every error body.
 *
 * The REST `code` is the low 16 bits of TDengine's `0x8000xxxx` error number
 * (taosAdapter: `code = code & 0xffff`). Descriptions follow TDengine 3.x `terror.c`;
 * they vary between versions, so clients must key on `code` and the server lets tests
 * override any description (`ServerCompat.errorDesc`).
 */

export const TaosCode = {
  /** 0x0100 */ OPS_NOT_SUPPORT: 0x0100,
  /** 0x013D */ DECIMAL_OVERFLOW: 0x013d,
  /** 0x0216 */ TSC_SQL_SYNTAX_ERROR: 0x0216,
  /** 0x0219 */ TSC_EXCEED_SQL_LIMIT: 0x0219,
  /** 0x0221 */ TSC_INVALID_JSON: 0x0221,
  /** 0x0222 */ TSC_INVALID_JSON_TYPE: 0x0222,
  /** 0x022F */ TSC_NOT_STABLE_ERROR: 0x022f,
  /** 0x0357 */ MND_AUTH_FAILURE: 0x0357,
  /** 0x0360 */ MND_STB_ALREADY_EXIST: 0x0360,
  /** 0x0362 */ MND_STB_NOT_EXIST: 0x0362,
  /** 0x0381 */ MND_DB_ALREADY_EXIST: 0x0381,
  /** 0x0382 */ MND_INVALID_DB_OPTION: 0x0382,
  /** 0x0388 */ MND_DB_NOT_EXIST: 0x0388,
  /** 0x0603 */ TDB_TABLE_ALREADY_EXIST: 0x0603,
  /** 0x060B */ TDB_TIMESTAMP_OUT_OF_RANGE: 0x060b,
  /** 0x061D */ TDB_TABLE_IN_OTHER_STABLE: 0x061d,
  /** 0x2600 */ PAR_SYNTAX_ERROR: 0x2600,
  /** 0x2602 */ PAR_INVALID_COLUMN: 0x2602,
  /** 0x2603 */ PAR_TABLE_NOT_EXIST: 0x2603,
  /** 0x260C */ PAR_NOT_SINGLE_GROUP: 0x260c,
  /** 0x260D */ PAR_TAGS_NOT_MATCHED: 0x260d,
  /** 0x260E */ PAR_INVALID_TAG_NAME: 0x260e,
  /** 0x2616 */ PAR_DB_NOT_SPECIFIED: 0x2616,
  /** 0x2633 */ PAR_ONLY_ONE_JSON_TAG: 0x2633,
  /** 0x2634 */ PAR_INCORRECT_NUM_OF_COL: 0x2634,
  /** 0x2635 */ PAR_INCORRECT_TIMESTAMP_VAL: 0x2635,
  /** 0x263C */ PAR_DUPLICATED_COLUMN: 0x263c,
  /** 0x263F */ PAR_INVALID_COLUMNS_NUM: 0x263f,
  /** 0x2641 */ PAR_INVALID_FIRST_COLUMN: 0x2641,
  /** 0x2642 */ PAR_INVALID_VAR_COLUMN_LEN: 0x2642,
  /** 0x2643 */ PAR_INVALID_TAGS_NUM: 0x2643,
  /** 0x2652 */ PAR_INVALID_COL_JSON: 0x2652,
  /** 0x2653 */ PAR_VALUE_TOO_LONG: 0x2653,
  /** 0x2655 */ PAR_INVALID_DELETE_WHERE: 0x2655,
  /** 0x2669 */ PAR_SYSTABLE_NOT_ALLOWED: 0x2669,
  /** 0xFFFF: adapter-side errors with free text */ ADAPTER: 0xffff,
} as const;

/** Default descriptions (TDengine 3.x `terror.c`); a thrown error may carry a more specific text. */
const DEFAULT_DESC: Readonly<Record<number, string>> = {
  [TaosCode.OPS_NOT_SUPPORT]: 'Operation not supported',
  [TaosCode.DECIMAL_OVERFLOW]: 'Decimal value overflow',
  [TaosCode.TSC_SQL_SYNTAX_ERROR]: 'Syntax error in SQL',
  [TaosCode.TSC_EXCEED_SQL_LIMIT]: 'SQL statement too long',
  [TaosCode.TSC_INVALID_JSON]: 'Invalid JSON format',
  [TaosCode.TSC_INVALID_JSON_TYPE]: 'Invalid JSON data type',
  [TaosCode.TSC_NOT_STABLE_ERROR]: 'Table is not a super table',
  [TaosCode.MND_AUTH_FAILURE]: 'Authentication failure',
  [TaosCode.MND_STB_ALREADY_EXIST]: 'STable already exists',
  [TaosCode.MND_STB_NOT_EXIST]: 'STable not exist',
  [TaosCode.MND_DB_ALREADY_EXIST]: 'Database already exists',
  [TaosCode.MND_INVALID_DB_OPTION]: 'Invalid database options',
  [TaosCode.MND_DB_NOT_EXIST]: 'Database not exist',
  [TaosCode.TDB_TABLE_ALREADY_EXIST]: 'Table already exists',
  [TaosCode.TDB_TIMESTAMP_OUT_OF_RANGE]: 'Timestamp data out of range',
  [TaosCode.TDB_TABLE_IN_OTHER_STABLE]: 'Table already exists in other stables',
  [TaosCode.PAR_SYNTAX_ERROR]: 'syntax error',
  [TaosCode.PAR_INVALID_COLUMN]: 'Invalid column name',
  [TaosCode.PAR_TABLE_NOT_EXIST]: 'Table does not exist',
  [TaosCode.PAR_NOT_SINGLE_GROUP]: 'Not a single-group group function',
  [TaosCode.PAR_TAGS_NOT_MATCHED]: 'Tags number not matched',
  [TaosCode.PAR_INVALID_TAG_NAME]: 'Invalid tag name',
  [TaosCode.PAR_DB_NOT_SPECIFIED]: 'Database not specified',
  [TaosCode.PAR_ONLY_ONE_JSON_TAG]: 'Only one tag if there is a json tag',
  [TaosCode.PAR_INCORRECT_NUM_OF_COL]: 'Illegal number of columns',
  [TaosCode.PAR_INCORRECT_TIMESTAMP_VAL]: 'Incorrect TIMESTAMP value',
  [TaosCode.PAR_DUPLICATED_COLUMN]: 'Duplicated column names',
  [TaosCode.PAR_INVALID_COLUMNS_NUM]: 'Invalid number of columns',
  [TaosCode.PAR_INVALID_FIRST_COLUMN]: 'The first column must be timestamp',
  [TaosCode.PAR_INVALID_VAR_COLUMN_LEN]: 'Invalid binary/nchar column/tag length',
  [TaosCode.PAR_INVALID_TAGS_NUM]: 'Invalid number of tag columns',
  [TaosCode.PAR_INVALID_COL_JSON]: 'Only tag can be json type',
  [TaosCode.PAR_VALUE_TOO_LONG]: 'Value too long for column/tag',
  [TaosCode.PAR_INVALID_DELETE_WHERE]: 'The DELETE statement must only have a definite time window range',
  [TaosCode.PAR_SYSTABLE_NOT_ALLOWED]: 'Operation not supported for system table',
};

/** An error raised by the SQL layer or the engine; becomes `{"code","desc"}` with HTTP 200. */
export class TaosError extends Error {
  readonly code: number;
  constructor(code: number, desc?: string) {
    super(desc ?? DEFAULT_DESC[code] ?? `error 0x${code.toString(16)}`);
    this.name = 'TaosError';
    this.code = code & 0xffff;
  }
}

export function syntaxError(near: string, detail?: string): TaosError {
  const text = `syntax error near "${near}"` + (detail ? ` (${detail})` : '');
  return new TaosError(TaosCode.PAR_SYNTAX_ERROR, text);
}

export function defaultDesc(code: number): string | undefined {
  return DEFAULT_DESC[code];
}

/**
 * Errors that taosAdapter itself answers (auth header, URL parameters, empty body), with
 * the HTTP status it uses. Codes from `tools/httperror` / `controller/rest`.
 */
export class AdapterError extends Error {
  readonly httpStatus: number;
  readonly code: number;
  constructor(httpStatus: number, code: number, desc: string) {
    super(desc);
    this.name = 'AdapterError';
    this.httpStatus = httpStatus;
    this.code = code;
  }
}

export const AdapterCode = {
  NO_AUTH_INFO: 0x1105, // 4357
  REQUEST_EMPTY: 0x1106, // 4358
  NO_SQL_INPUT: 0x1107, // 4359
  INVALID_AUTH_TYPE: 0x1122, // 4386
  INVALID_BASIC_AUTH: 0x1124, // 4388
  INVALID_TAOSD_AUTH: 0x1125, // 4389
} as const;

export interface ErrorBodyOptions {
  /** Since taosAdapter 3.3.3.0 every error body carries `"timing"` (ns). */
  timing: boolean;
  elapsedNs: bigint;
}

/** The single builder of taosAdapter's error body: `{"code":N,"desc":"...","timing":ns}`. */
export function errorBody(code: number, desc: string, opts: ErrorBodyOptions): string {
  const base = `{"code":${code},"desc":${goJsonString(desc)}`;
  return opts.timing ? `${base},"timing":${opts.elapsedNs}}` : `${base}}`;
}

/**
 * A string as Go's `encoding/json` writes it (gin's `c.JSON`): like JSON.stringify, but
 * `<`, `>`, `&`, U+2028 and U+2029 are escaped as `\u003c`, `\u003e`, `\u0026`, `\u2028`, `\u2029`.
 */
export function goJsonString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
