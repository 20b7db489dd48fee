import { Type } from '@sinclair/typebox';

/**
 * Text that reaches names and titles. Refused: control characters, path traversal (`..`, `\`), markup (`<`, `>`), and SQL metacharacters (`'`, `"`, `;`, backquote, `--`, `/*`). Every query is
 * parameterised anyway; refusing them keeps names safe for file names, CSV, logs and other systems we hand
 * them to. Vietnamese letters, digits, spaces, and , . / ( ) - _ : & + # … “ ” are all fine
 * (document numbers such as 12/TB-UBND need the slash).
 */
export const SAFE_TEXT_PATTERN = "^(?!.*\\.\\.)(?!.*--)(?!.*/\\*)(?!.*\\*/)[^\\x00-\\x1f\\x7f\\\\<>;'\"`]*$";
export const SafeName = (maxLength = 200, description?: string) =>
  Type.String({ minLength: 1, maxLength, pattern: SAFE_TEXT_PATTERN, ...(description ? { description } : {}) });

export const IdParam = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$', description: 'Identifier' });
export const Params = Type.Object({ id: IdParam }, { additionalProperties: false });

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable error code, e.g. LOA_ERR_FORBIDDEN' }),
      message: Type.String({ description: 'English message for technicians and logs' }),
      vi: Type.String({ description: 'Vietnamese message for the UI' }),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  { $id: 'ErrorBody', title: 'error' },
);

export const LocalDate = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'Local date (Asia/Ho_Chi_Minh), YYYY-MM-DD' });
export const Limit = Type.Integer({ minimum: 1, maximum: 10000, default: 100 });
