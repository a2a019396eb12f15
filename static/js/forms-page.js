// Standalone pages with API forms (help, support ticket, my orders): bind them once.
import { bindApiForms } from "./forms.js";
import "./support.js";

bindApiForms();
