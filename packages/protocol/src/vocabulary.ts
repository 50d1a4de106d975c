/**
 * The consortium's shared vocabulary: data categories (consent scopes) and purposes of use
 * (HL7 PurposeOfUse codes). Both lists live here and nowhere else.
 */

/** Data categories a consent, an anchor or an access names. */
export const CATEGORIES = [
  "allergies",
  "medications",
  "problems",
  "labs",
  "imaging",
  "immunizations",
  "procedures",
  "notes",
  "demographics",
  "mental-health",
  "substance-use",
  "sexual-health",
  "genetics",
] as const;

/** A data category. */
export type Category = (typeof CATEGORIES)[number];

/** Categories never reachable by break-glass unless the patient put them in their emergency scope. */
export const SENSITIVE_CATEGORIES: readonly Category[] = [
  "mental-health",
  "substance-use",
  "sexual-health",
  "genetics",
];

/** The emergency scope of a patient who never set one: every category that is not sensitive. */
export const DEFAULT_EMERGENCY_SCOPE: readonly Category[] = CATEGORIES.filter(
  (category) => !SENSITIVE_CATEGORIES.includes(category),
);

/** Purposes of use (HL7 v3 PurposeOfUse codes). */
export const PURPOSES = ["TREAT", "ETREAT", "HPAYMT", "HOPERAT", "HRESCH", "PUBHLTH"] as const;

/** A purpose of use. */
export type Purpose = (typeof PURPOSES)[number];

/** Human names of the purposes, for docs and CLIs. */
export const PURPOSE_NAMES: Readonly<Record<Purpose, string>> = {
  TREAT: "treatment",
  ETREAT: "emergency treatment",
  HPAYMT: "payment",
  HOPERAT: "operations",
  HRESCH: "research",
  PUBHLTH: "public health",
};

/** True when `value` is a known category. */
export function isCategory(value: unknown): value is Category {
  return typeof value === "string" && (CATEGORIES as readonly string[]).includes(value);
}

/** True when `value` is a known purpose. */
export function isPurpose(value: unknown): value is Purpose {
  return typeof value === "string" && (PURPOSES as readonly string[]).includes(value);
}

/** True when `category` is sensitive (never reachable by break-glass unless allowed). */
export function isSensitive(category: Category): boolean {
  return SENSITIVE_CATEGORIES.includes(category);
}
