// Goal: the shared vocabulary, limits and error type hold their documented shape.
// Method: direct checks of the exported lists and of the error helpers.
import { describe, expect, it } from "vitest";
import { check, isProtocolError, PROTOCOL_ERROR_CODES, ProtocolError } from "../src/errors.js";
import * as limits from "../src/limits.js";
import {
  CATEGORIES,
  DEFAULT_EMERGENCY_SCOPE,
  isCategory,
  isPurpose,
  isSensitive,
  PURPOSES,
  SENSITIVE_CATEGORIES,
} from "../src/vocabulary.js";

describe("vocabulary", () => {
  it("lists the thirteen categories and six HL7 purposes without duplicates", () => {
    expect(new Set(CATEGORIES).size).toBe(13);
    expect(new Set(PURPOSES).size).toBe(6);
    expect(PURPOSES).toContain("ETREAT");
  });

  it("keeps every sensitive category out of the default emergency scope", () => {
    for (const category of SENSITIVE_CATEGORIES) {
      expect(isSensitive(category)).toBe(true);
      expect(DEFAULT_EMERGENCY_SCOPE).not.toContain(category);
    }
    expect(DEFAULT_EMERGENCY_SCOPE.length + SENSITIVE_CATEGORIES.length).toBe(CATEGORIES.length);
  });

  it("recognises only known names", () => {
    expect(isCategory("labs")).toBe(true);
    expect(isCategory("LABS")).toBe(false);
    expect(isCategory(3)).toBe(false);
    expect(isPurpose("TREAT")).toBe(true);
    expect(isPurpose("treatment")).toBe(false);
  });
});

describe("limits", () => {
  it("names every limit as a positive safe integer", () => {
    for (const [name, value] of Object.entries(limits)) {
      expect(Number.isSafeInteger(value), name).toBe(true);
      expect(value, name).toBeGreaterThan(0);
    }
  });
});

describe("errors", () => {
  it("carries a stable code and field", () => {
    const error = new ProtocolError("FIELD_INVALID", "bad", { field: "body.x" });
    expect(error.code).toBe("FIELD_INVALID");
    expect(error.field).toBe("body.x");
    expect(isProtocolError(error)).toBe(true);
    expect(isProtocolError(new Error("plain"))).toBe(false);
    expect(Object.keys(PROTOCOL_ERROR_CODES)).toContain(error.code);
  });

  it("check throws only when the condition fails", () => {
    expect(() => check(true, "FIELD_INVALID", "fine")).not.toThrow();
    expect(() => check(false, "FIELD_MISSING", "gone", "body.y")).toThrowError(
      expect.objectContaining({ code: "FIELD_MISSING", field: "body.y" }),
    );
  });
});
