/**
 * The Calculator Agent's tools, as pure functions: no state, no I/O, the same answer for the same arguments.
 * They throw a `RangeError` with a readable message for what they cannot do; the tool loop hands that message
 * to the model, which may try again.
 */

/** The operations of `calculate`. */
export const OPERATIONS = ['+', '-', '*', '/', '^', '%'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** `a op b`, exactly as JavaScript numbers compute it; a result that is not a finite number is an error. */
export function calculate(a: number, op: Operation, b: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b)) throw new RangeError('the operands must be finite numbers');
  let result: number;
  switch (op) {
    case '+':
      result = a + b;
      break;
    case '-':
      result = a - b;
      break;
    case '*':
      result = a * b;
      break;
    case '/':
      if (b === 0) throw new RangeError('division by zero');
      result = a / b;
      break;
    case '^':
      result = a ** b;
      break;
    case '%':
      if (b === 0) throw new RangeError('modulo by zero');
      result = a % b;
      break;
    default:
      throw new RangeError(`unknown operation ${String(op)}; use one of ${OPERATIONS.join(' ')}`);
  }
  if (!Number.isFinite(result)) throw new RangeError(`${a} ${op} ${b} is not a finite number`);
  return result;
}

/** Units by kind, with their factor to the kind's base unit (metre, kilogram, litre). */
const FACTORS = {
  length: { m: 1, km: 1000, cm: 0.01, mm: 0.001, mi: 1609.344, yd: 0.9144, ft: 0.3048, in: 0.0254 },
  mass: { kg: 1, g: 0.001, mg: 0.000001, t: 1000, lb: 0.45359237, oz: 0.028349523125 },
  volume: { l: 1, ml: 0.001, m3: 1000, gal: 3.785411784, qt: 0.946352946, cup: 0.2365882365 },
} as const;
const TEMPERATURES = ['C', 'F', 'K'] as const;

/** Every unit `convertUnits` knows. */
export const UNITS = [...Object.values(FACTORS).flatMap((units) => Object.keys(units)), ...TEMPERATURES] as readonly string[];

function kindOf(unit: string): keyof typeof FACTORS | 'temperature' | undefined {
  if ((TEMPERATURES as readonly string[]).includes(unit)) return 'temperature';
  return (Object.keys(FACTORS) as Array<keyof typeof FACTORS>).find((kind) => Object.hasOwn(FACTORS[kind], unit));
}

/** Kelvin from a temperature in `unit`, and back. */
const toKelvin = (value: number, unit: string) => (unit === 'C' ? value + 273.15 : unit === 'F' ? ((value - 32) * 5) / 9 + 273.15 : value);
const fromKelvin = (kelvin: number, unit: string) => (unit === 'C' ? kelvin - 273.15 : unit === 'F' ? ((kelvin - 273.15) * 9) / 5 + 32 : kelvin);

/** `value` in unit `from`, converted to unit `to` (both of the same kind). */
export function convertUnits(value: number, from: string, to: string): number {
  if (!Number.isFinite(value)) throw new RangeError('the value must be a finite number');
  const kind = kindOf(from);
  if (!kind) throw new RangeError(`unknown unit ${from}; known: ${UNITS.join(', ')}`);
  if (kindOf(to) !== kind) throw new RangeError(`cannot convert ${from} (${kind}) to ${to}`);
  if (kind === 'temperature') {
    const kelvin = toKelvin(value, from);
    if (kelvin < 0) throw new RangeError('below absolute zero');
    return fromKelvin(kelvin, to);
  }
  const factors = FACTORS[kind] as Record<string, number>;
  return (value * factors[from]!) / factors[to]!;
}
