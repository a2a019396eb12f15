// My account → cases and appeals: the appeal forms post to the REST API, then the page
// reloads to show the appeal and its status.
import { bindApiForms } from "./forms.js";

bindApiForms();
