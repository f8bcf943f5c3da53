// edgecc_fork: part of the edgecc stream library, copied by edgecc into designs whose units run at different
// rates; every design that uses it gets the same text.
`timescale 1ns/1ps
`default_nettype none

// One value to N readers: each reader sees it until it has taken it; the writer sees it taken when all have.
module edgecc_fork #(parameter N = 2) (
    input  wire clk,
    input  wire rst,
    input  wire in_valid,
    output wire in_ready,
    output wire [N-1:0] out_valid,
    input  wire [N-1:0] out_ready
);
    reg [N-1:0] taken;
    assign out_valid = {N{in_valid}} & ~taken;
    assign in_ready = &(taken | out_ready);
    always @(posedge clk) begin
        if (rst || (in_valid && in_ready)) taken <= {N{1'b0}};
        else taken <= taken | (out_valid & out_ready);
    end
endmodule

`default_nettype wire
