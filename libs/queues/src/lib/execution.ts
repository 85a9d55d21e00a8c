import { Type, type Static } from '@sinclair/typebox';

/**
 * MIME keys of rich results, as Jupyter names them. A `ResultItem` carries any of these (and any other
 * mime type a value offers); binary types (`image/png`, `image/jpeg`, `application/pdf`) are base64.
 */
export const ResultMime = {
  text: 'text/plain',
  html: 'text/html',
  markdown: 'text/markdown',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpeg: 'image/jpeg',
  pdf: 'application/pdf',
  latex: 'text/latex',
  json: 'application/json',
  javascript: 'application/javascript',
} as const;

/**
 * One rich result of an execution: `{isMain, [mime]: data}`. `isMain` is true for the value of the
 * cell's last expression (Jupyter `execute_result`), false for `display()` calls and figures
 * (`display_data`). `application/json` holds a JSON value, every other mime type a string.
 */
export type ResultItem = { isMain: boolean; [mime: string]: unknown };
export const ResultItem = Type.Unsafe<ResultItem>(
  Type.Object(
    {
      isMain: Type.Boolean({
        description: 'true: the last expression of the cell; false: display()/figures',
      }),
    },
    { additionalProperties: true },
  ),
);

/** A kernel error: exception class name, its message (str(exc) / err.message) and the formatted traceback. */
export const ExecutionError = Type.Object({
  name: Type.String(),
  value: Type.String(),
  traceback: Type.String(),
});
export type ExecutionError = Static<typeof ExecutionError>;

/**
 * Events of one execution on its `streamChannel` (only when the payload has `stream`), in order:
 * output chunks as they are read from the kernel's pipes (`ts` = epoch ms when read), rich results as
 * the kernel produces them, the error (at most one). The job's reply (ExecuteResult) is the end.
 */
export const ExecutionEvent = Type.Union([
  Type.Object({
    t: Type.Union([Type.Literal('stdout'), Type.Literal('stderr')]),
    text: Type.String(),
    ts: Type.Number({ description: 'epoch ms when the executor read the chunk from the kernel pipe' }),
  }),
  Type.Object({ t: Type.Literal('result'), result: ResultItem }),
  Type.Object({ t: Type.Literal('error'), error: ExecutionError }),
]);
export type ExecutionEvent =
  | { t: 'stdout' | 'stderr'; text: string; ts: number }
  | { t: 'result'; result: ResultItem }
  | { t: 'error'; error: ExecutionError };
