/** @odoo-module **/
/*
 * What an integrator does first: create an outbound configuration through the
 * form, press Test Connection, read the notification, then open the
 * configuration's Logs and the log of that call.
 *
 * Started by bj_api_sync/tests/test_tour_config.py, which passes the address of
 * its local sink in the start URL (?bj_tour_sink=...) and checks afterwards
 * what the sink received.
 */

import { registry } from "@web/core/registry";

const CONFIG_NAME = "Tour Outbound Sync";
const HEADER_KEY = "X-Tour-Header";
const HEADER_VALUE = "tour-header-value";
const BEARER_TOKEN = "tour-secret-token";

/** Type ``text`` in a many2one (or many2many tags) input, then pick the option labelled exactly ``label``. */
function pickOption(fieldSelector, text, label) {
    return [
        {
            content: `Type "${text}" in ${fieldSelector}`,
            trigger: `${fieldSelector} input`,
            run: `text ${text}`,
        },
        {
            content: `Choose "${label}"`,
            // Wait for the dropdown to list the label, then click the option whose
            // whole text is the label ("Contact" also prefixes "Contact Tag").
            trigger: `.o-autocomplete--dropdown-item a:contains("${label}")`,
            run(actions) {
                const option = [
                    ...document.querySelectorAll(".o-autocomplete--dropdown-item a"),
                ].find((el) => el.textContent.trim() === label);
                if (!option) {
                    throw new Error(`No option labelled exactly "${label}"`);
                }
                actions.click(option);
            },
        },
    ];
}

/** Add a row to the editable list of ``listField`` and fill it. */
function addRow(listField, cells) {
    const row = `.o_field_widget[name=${listField}] .o_data_row.o_selected_row`;
    const steps = [
        {
            content: `Add a line to ${listField}`,
            trigger: `.o_field_widget[name=${listField}] .o_field_x2many_list_row_add a`,
            run: "click",
        },
    ];
    for (const cell of cells) {
        if (cell.option) {
            steps.push(...pickOption(`${row} .o_field_widget[name=${cell.name}]`, cell.text, cell.option));
        } else {
            steps.push({
                content: `Set ${listField}.${cell.name}`,
                trigger: `${row} .o_field_widget[name=${cell.name}] input`,
                run: `text ${cell.text}`,
            });
        }
    }
    return steps;
}

function openTab(label) {
    return {
        content: `Open the ${label} tab`,
        trigger: `.o_notebook .nav-link:contains("${label}")`,
        run: "click",
    };
}

registry.category("web_tour.tours").add("bj_api_sync_config_tour", {
    test: true,
    // No ``url``: the tour would redirect there and lose the start URL's sink address.
    steps: () => {
        const sink = new URLSearchParams(window.location.search).get("bj_tour_sink");
        return [
            {
                content: "The API Configurations list is open",
                trigger: ".o_breadcrumb:contains('API Configurations')",
                run() {
                    if (!sink) {
                        throw new Error("bj_api_sync_config_tour needs ?bj_tour_sink=<sink URL> in its start URL");
                    }
                },
            },
            {
                content: "Create a configuration",
                trigger: ".o_control_panel .o_list_button_add",
                run: "click",
            },
            {
                content: "Name it",
                trigger: ".o_form_editable .o_field_widget[name=name] input",
                run: `text ${CONFIG_NAME}`,
            },
            {
                content: "Outbound: Odoo calls the external API",
                trigger: ".o_field_widget[name=request_type] input[data-value=out]",
                run: "click",
            },
            ...pickOption(".o_field_widget[name=model_id]", "Contact", "Contact"),
            {
                content: "Request URL: the local sink",
                trigger: ".o_field_widget[name=url] input",
                run: `text ${sink}`,
            },
            {
                content: "Outbound: one HTTP method, chosen in a list",
                trigger: ".o_field_widget[name=http_method_id] select",
                extra_trigger: ".o_form_view:not(:has(.o_field_widget[name=http_method_ids]))",
                run: "text POST",
            },
            openTab("Field Mappings"),
            ...addRow("line_ids", [
                { name: "field_id", text: "City", option: "City (Contact)" },
                { name: "external_key", text: "address.city" },
            ]),
            ...addRow("line_ids", [
                { name: "field_id", text: "Reference", option: "Reference (Contact)" },
                { name: "external_key", text: "customer_ref" },
            ]),
            openTab("Headers"),
            ...addRow("header_ids", [
                { name: "key", text: HEADER_KEY },
                { name: "value", text: HEADER_VALUE },
            ]),
            openTab("Authentication"),
            {
                content: "Bearer authentication",
                trigger: ".o_field_widget[name=auth_type] select",
                run: "text Bearer Token",
            },
            {
                content: "The token",
                trigger: ".o_field_widget[name=bearer_token] input[type=password]",
                run: `text ${BEARER_TOKEN}`,
            },
            {
                content: "Test Connection (saves the configuration, then calls the sink)",
                trigger: ".o_form_statusbar button[name=action_test_connection]",
                run: "click",
            },
            {
                content: "The notification says the sink answered",
                trigger: `.o_notification:has(.o_notification_title:contains("${CONFIG_NAME}"))` +
                    ` .o_notification_content:contains("Connected: HTTP 200 in")`,
                isCheck: true,
            },
            {
                content: "The configuration is saved",
                trigger: ".o_form_view .o_form_saved",
                extra_trigger: ".o_breadcrumb .active:contains('" + CONFIG_NAME + "')",
                isCheck: true,
            },
            {
                content: "Right after the test, the Logs button counts the call",
                trigger: "button[name=action_view_logs]:has(.o_stat_value:contains('1'))",
                extra_trigger: `.o_breadcrumb .active:contains("${CONFIG_NAME}")`,
                isCheck: true,
            },
            openTab("Field Mappings"),
            {
                content: "The saved configuration lists the two mappings",
                trigger:
                    ".o_field_widget[name=line_ids] .o_data_row:eq(1)" +
                    ":has(td[name=field_id]:contains('Reference (Contact)'))" +
                    ":has(td[name=external_key]:contains('customer_ref'))",
                extra_trigger:
                    ".o_field_widget[name=line_ids] .o_data_row:eq(0)" +
                    ":has(td[name=field_id]:contains('City (Contact)'))" +
                    ":has(td[name=external_key]:contains('address.city'))",
                isCheck: true,
            },
            {
                content: "Open the configuration's Logs",
                trigger: "button[name=action_view_logs]",
                run: "click",
            },
            {
                content: "The call is the only log row: HEAD to the sink, 200, success",
                trigger:
                    ".o_list_view .o_data_row" +
                    `:has(td[name=config_id]:contains("${CONFIG_NAME}"))` +
                    `:has(td[name=url]:contains("${sink}"))` +
                    ":has(td[name=http_method]:contains('HEAD'))" +
                    ":has(td[name=status_text]:contains('200'))" +
                    ":has(td[name=state]:contains('Success'))",
                extra_trigger: ".o_breadcrumb:contains('Logs')",
                run(actions) {
                    const rows = document.querySelectorAll(".o_list_view .o_data_row");
                    if (rows.length !== 1) {
                        throw new Error(`Expected one log row, found ${rows.length}`);
                    }
                    actions.click(this.$anchor.find("td[name=url]"));
                },
            },
            {
                content: "The log shows the request headers, the token masked",
                trigger:
                    `.o_form_view .o_field_widget[name=request_headers]:contains("${HEADER_KEY}")` +
                    `:contains("${HEADER_VALUE}"):contains("Authorization")` +
                    `:not(:contains("${BEARER_TOKEN}"))`,
                extra_trigger: ".o_form_view .o_field_widget[name=status_text]:contains('200')",
                isCheck: true,
            },
            {
                content: "Back to the configuration",
                trigger: `.o_breadcrumb .breadcrumb-item a:contains("${CONFIG_NAME}")`,
                run: "click",
            },
            {
                content: "Its Logs button counts the call",
                trigger: "button[name=action_view_logs]:has(.o_stat_value:contains('1'))",
                extra_trigger: `.o_breadcrumb .active:contains("${CONFIG_NAME}")`,
                isCheck: true,
            },
        ];
    },
});
