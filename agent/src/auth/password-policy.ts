/**
 * What a dashboard password must be, after NIST SP 800-63B §5.1.1.2 and the OWASP
 * Authentication Cheat Sheet: long enough (12 characters here, above NIST's minimum of 8,
 * since these accounts can acknowledge alarms about patients' devices), any characters
 * allowed, no composition rules, but refused when it is a well-known password, a run of
 * one character or of a keyboard/alphabet sequence, or built from the username or the
 * product's name (NIST: "context-specific words").
 */

export const MIN_PASSWORD_LENGTH = 12;
/** Bounds the scrypt input; a passphrase is never this long. */
export const MAX_PASSWORD_LENGTH = 256;

/**
 * Well-known passwords of 12 characters or more, from the published top lists of breach
 * corpora (shorter ones are refused by length already). Compared case-insensitively.
 */
const COMMON = new Set([
  '123456789012', '1234567890123', '12345678901234', '123456789123', '123123123123', '111111111111', '000000000000',
  'password1234', 'password12345', 'password123456', 'passwordpassword', 'password1234!', 'password123!', 'p@ssw0rd1234',
  'qwerty123456', 'qwertyuiop12', 'qwertyuiop123', 'qwertyuiopas', 'qwertyuiopasdf', '1q2w3e4r5t6y', '1qaz2wsx3edc', 'zaq12wsxcde3',
  'asdfghjkl123', 'iloveyou1234', 'iloveyou123456', 'letmein12345', 'welcome12345', 'welcome123456', 'changeme1234',
  'changemenow!', 'administrator', 'administrator1', 'admin1234567', 'football1234', 'baseball1234', 'superman1234', 'princess1234',
  'sunshine1234', 'starwars1234', 'trustno1trustno1', 'abc123456789', 'abcdefghijkl', 'abcd12345678', 'monkey123456', 'dragon123456',
  'hospital1234', 'hospital2024', 'hospital2025', 'nurse1234567', 'summer2024!!', 'winter2024!!', 'spring2025!!', 'autumn2025!!',
]);

const SEQUENCES = ['abcdefghijklmnopqrstuvwxyz', '0123456789', 'qwertyuiop', 'asdfghjkl', 'zxcvbnm', '1qaz2wsx3edc4rfv5tgb'];

function isRunOf(text: string): boolean {
  if (new Set(text).size <= 2) return true;
  for (const sequence of SEQUENCES) {
    const doubled = sequence + sequence;
    const reversed = [...doubled].reverse().join('');
    if (doubled.includes(text) || reversed.includes(text)) return true;
  }
  return false;
}

/** Null when acceptable, else what is wrong, in words for the person choosing it. */
export function passwordProblem(password: string, username: string): string | null {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) return `the password is too short: ${length} characters, at least ${MIN_PASSWORD_LENGTH} are needed (a passphrase of a few words is easiest)`;
  if (length > MAX_PASSWORD_LENGTH) return `the password is longer than ${MAX_PASSWORD_LENGTH} characters`;
  const lower = password.toLowerCase();
  if (COMMON.has(lower)) return 'this password is on lists of common passwords that attackers try first; choose another';
  if (isRunOf(lower)) return 'the password is a run of repeated or consecutive characters; choose another';
  const stripped = lower.replace(/[^a-z0-9]/g, '');
  const name = username.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (name.length >= 3 && stripped.includes(name)) return 'the password contains the username; choose another';
  if (stripped.includes('wardwatch')) return 'the password contains the product\'s name; choose another';
  return null;
}
