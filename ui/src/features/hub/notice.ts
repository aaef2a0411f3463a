// What the Hub view tells the user for a failure, by its code.
import type { AppError } from "../../api";

/** What to tell the user for a Hub failure, by code. */
export function hubNotice(e: AppError): string {
  switch (e.code) {
    case "hub_offline":
      return "Docker Hub cannot be reached. Check the network connection (or the Hub API URL in Settings).";
    case "hub_timeout":
      return "Docker Hub did not answer in time. Try again in a moment.";
    case "hub_rate_limited":
      return e.message;
    case "hub_not_found":
      return "That repository is not on Docker Hub.";
    default:
      return e.message;
  }
}
